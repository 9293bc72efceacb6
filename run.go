package troupe

import (
	"fmt"
	"maps"
	"slices"
	"time"
)

// MaxMetamorphs is how many times one run may metamorph.
const MaxMetamorphs = 10

// Origins of a run (meta.origin).
const (
	OriginAPI         = "API"
	OriginCLI         = "CLI"
	OriginDevelopment = "DEVELOPMENT"
	OriginActor       = "ACTOR"
	OriginScheduler   = "SCHEDULER"
)

// Run is one execution of an actor build, as the API shows it. Control holds
// what the controller needs and is never serialised to clients.
type Run struct {
	ID                        string             `json:"id"`
	ActID                     string             `json:"actId"`
	UserID                    string             `json:"userId"`
	ActorTaskID               *string            `json:"actorTaskId"`
	StartedAt                 time.Time          `json:"startedAt"`
	FinishedAt                *time.Time         `json:"finishedAt"`
	Status                    Status             `json:"status"`
	StatusMessage             *string            `json:"statusMessage"`
	IsStatusMessageTerminal   *bool              `json:"isStatusMessageTerminal"`
	Meta                      RunMeta            `json:"meta"`
	Stats                     RunStats           `json:"stats"`
	Options                   RunOptions         `json:"options"`
	BuildID                   string             `json:"buildId"`
	BuildNumber               string             `json:"buildNumber"`
	ExitCode                  *int               `json:"exitCode"`
	GeneralAccess             string             `json:"generalAccess"`
	DefaultKeyValueStoreID    string             `json:"defaultKeyValueStoreId"`
	DefaultDatasetID          string             `json:"defaultDatasetId"`
	DefaultRequestQueueID     string             `json:"defaultRequestQueueId"`
	StorageIDs                StorageIDs         `json:"storageIds"`
	ContainerURL              string             `json:"containerUrl,omitempty"`
	IsContainerServerReady    bool               `json:"isContainerServerReady"`
	GitBranchName             *string            `json:"gitBranchName"`
	Usage                     map[string]float64 `json:"usage"`
	UsageTotalUsd             float64            `json:"usageTotalUsd"`
	UsageUsd                  map[string]float64 `json:"usageUsd"`
	PricingInfo               map[string]any     `json:"pricingInfo"`
	ChargedEventCounts        map[string]int     `json:"chargedEventCounts"`
	Metamorphs                []Metamorph        `json:"metamorphs"`
	PlatformUsageBillingModel string             `json:"platformUsageBillingModel"`

	// Version is bumped by the store on every write (compare-and-set).
	Version int64      `json:"-"`
	Control RunControl `json:"-"`
	// AdHocWebhooks are stored by CreateRun with the run (the webhooks run
	// option); they are never kept on the run itself.
	AdHocWebhooks []*Webhook `json:"-"`
}

// Clone returns a copy of r whose maps and slices are its own. The values r
// points to (times, strings, numbers, the abort request, webhooks) are
// shared: troupe never changes a run through them, it points a run at new
// values instead.
func (r *Run) Clone() *Run {
	c := *r
	c.Usage = maps.Clone(r.Usage)
	c.UsageUsd = maps.Clone(r.UsageUsd)
	c.PricingInfo = maps.Clone(r.PricingInfo)
	c.ChargedEventCounts = maps.Clone(r.ChargedEventCounts)
	c.Metamorphs = slices.Clone(r.Metamorphs)
	c.AdHocWebhooks = slices.Clone(r.AdHocWebhooks)
	c.Control.InputRefs = slices.Clone(r.Control.InputRefs)
	c.StorageIDs = StorageIDs{
		Datasets:       maps.Clone(r.StorageIDs.Datasets),
		KeyValueStores: maps.Clone(r.StorageIDs.KeyValueStores),
		RequestQueues:  maps.Clone(r.StorageIDs.RequestQueues),
	}
	return &c
}

// RunMeta says where a run came from.
type RunMeta struct {
	Origin    string `json:"origin"`
	ClientIP  string `json:"clientIp,omitempty"`
	UserAgent string `json:"userAgent,omitempty"`
	// ScheduleID and ScheduledAt name the schedule firing that started a
	// run of origin SCHEDULER.
	ScheduleID  string     `json:"scheduleId,omitempty"`
	ScheduledAt *time.Time `json:"scheduledAt,omitempty"`
}

// RunStats are the counters and resource figures of a run.
type RunStats struct {
	InputBodyLen    *int    `json:"inputBodyLen"`
	MigrationCount  int     `json:"migrationCount"`
	RebootCount     int     `json:"rebootCount"`
	RestartCount    int     `json:"restartCount"`
	ResurrectCount  int     `json:"resurrectCount"`
	MemAvgBytes     float64 `json:"memAvgBytes"`
	MemMaxBytes     int64   `json:"memMaxBytes"`
	MemCurrentBytes int64   `json:"memCurrentBytes"`
	CPUAvgUsage     float64 `json:"cpuAvgUsage"`
	CPUMaxUsage     float64 `json:"cpuMaxUsage"`
	CPUCurrentUsage float64 `json:"cpuCurrentUsage"`
	NetRxBytes      int64   `json:"netRxBytes"`
	NetTxBytes      int64   `json:"netTxBytes"`
	DurationMillis  int64   `json:"durationMillis"`
	RunTimeSecs     float64 `json:"runTimeSecs"`
	Metamorph       int     `json:"metamorph"`
	ComputeUnits    float64 `json:"computeUnits"`
}

// RunOptions are the options a run was started with.
type RunOptions struct {
	Build             string   `json:"build"`
	TimeoutSecs       int      `json:"timeoutSecs"`
	MemoryMbytes      int      `json:"memoryMbytes"`
	DiskMbytes        int      `json:"diskMbytes"`
	MaxItems          *int     `json:"maxItems,omitempty"`
	MaxTotalChargeUsd *float64 `json:"maxTotalChargeUsd,omitempty"`
	RestartOnError    bool     `json:"restartOnError"`
}

// Metamorph records one metamorph of a run.
type Metamorph struct {
	CreatedAt time.Time `json:"createdAt"`
	ActorID   string    `json:"actorId"`
	BuildID   string    `json:"buildId"`
	InputKey  string    `json:"inputKey"`
}

// StorageIDs lists a run's storages by alias ("default" for the default ones).
type StorageIDs struct {
	Datasets       map[string]string `json:"datasets"`
	KeyValueStores map[string]string `json:"keyValueStores"`
	RequestQueues  map[string]string `json:"requestQueues"`
}

// RunControl is the controller's side of a run: what the user asked for and
// what the controller has done about it. The API writes the desired part, the
// controller the observed part; both in the same row as the run.
type RunControl struct {
	// Generation is bumped whenever the run's process must be (re)started:
	// start, reboot, metamorph, resurrect, restart. The controller runs at most
	// one process per run and replaces it when the generation moves on.
	Generation int `json:"generation"`
	// InputKey is ACTOR_INPUT_KEY for the current generation.
	InputKey string `json:"inputKey"`
	// Abort is set when an abort was requested and not yet carried out.
	Abort *AbortRequest `json:"abort,omitempty"`
	// TimeoutAt is when the run times out (nil: never).
	TimeoutAt *time.Time `json:"timeoutAt,omitempty"`
	// RunningSince starts the current running span; durations add spans up so
	// that time between a finish and a resurrect is not counted.
	RunningSince *time.Time `json:"runningSince,omitempty"`
	// PastMillis is the running time of the spans before the current one.
	PastMillis int64 `json:"pastMillis"`
	// ErrorRestarts counts restarts done because of restartOnError.
	ErrorRestarts int `json:"errorRestarts"`
	// Owner names the controller (server instance) that runs the process;
	// LeaseUntil is how long that claim holds.
	Owner      string     `json:"owner,omitempty"`
	LeaseUntil *time.Time `json:"leaseUntil,omitempty"`
	// PID and PIDStartTime identify the process group of the current
	// generation, so a restarted server can clean up after a crash.
	PID          int    `json:"pid,omitempty"`
	PIDStartTime uint64 `json:"pidStartTime,omitempty"`
	// StartedGeneration is the generation whose process was last started.
	StartedGeneration int `json:"startedGeneration"`
	// PermissionLevel is what the run's token reaches (PermissionsLimited or
	// PermissionsFull; empty means limited).
	PermissionLevel string `json:"permissionLevel,omitempty"`
	// StartedBy is the run whose token started this one, if any.
	StartedBy string `json:"startedBy,omitempty"`
	// InputRefs are the strings of the run's input that may name storages
	// (see InputRefs): a limited run reaches the storages they name.
	InputRefs []string `json:"inputRefs,omitempty"`
}

// AbortRequest is an abort asked for by a user.
type AbortRequest struct {
	Graceful    bool      `json:"graceful"`
	RequestedAt time.Time `json:"requestedAt"`
}

func (r *Run) transition(to Status) error {
	if !CanTransition(r.Status, to) {
		return Errorf(ErrInvalidRequest, "Run %s cannot go from %s to %s.", r.ID, r.Status, to)
	}
	r.Status = to
	return nil
}

// MarkRunning moves a READY run to RUNNING (its process is about to start).
func (r *Run) MarkRunning(now time.Time) error {
	if r.Status != StatusReady {
		return Errorf(ErrInvalidRequest, "Run %s is %s, not READY.", r.ID, r.Status)
	}
	if err := r.transition(StatusRunning); err != nil {
		return err
	}
	r.Control.RunningSince = &now
	return nil
}

// Finish records that the run's process ended with exitCode and sets the
// final status: RUNNING ends SUCCEEDED (exit 0) or FAILED, ABORTING ends
// ABORTED and TIMING-OUT ends TIMED-OUT whatever the exit code. When the actor
// set no terminal status message, one that names the outcome is set.
func (r *Run) Finish(exitCode int, now time.Time) error {
	var to Status
	var msg string
	switch r.Status {
	case StatusRunning:
		if exitCode == 0 {
			to, msg = StatusSucceeded, "Actor finished with exit code 0"
		} else {
			to, msg = StatusFailed, fmt.Sprintf("Actor failed with exit code %d", exitCode)
		}
	case StatusAborting:
		to, msg = StatusAborted, "Run was aborted"
	case StatusTimingOut:
		to, msg = StatusTimedOut, "Run timed out"
	case StatusReady:
		to, msg = StatusFailed, fmt.Sprintf("Actor failed with exit code %d", exitCode)
	default:
		return Errorf(ErrJobFinished, "Run %s has already finished.", r.ID)
	}
	return r.end(to, &exitCode, msg, now)
}

// Fail ends a live run as FAILED with a message (e.g. the process could not
// be started). An aborting or timing-out run still ends ABORTED or TIMED-OUT.
func (r *Run) Fail(msg string, now time.Time) error {
	to := StatusFailed
	switch r.Status {
	case StatusAborting:
		to = StatusAborted
	case StatusTimingOut:
		to = StatusTimedOut
	}
	if r.Status.Terminal() {
		return Errorf(ErrJobFinished, "Run %s has already finished.", r.ID)
	}
	r.IsStatusMessageTerminal = nil // the reason given here wins
	return r.end(to, nil, msg, now)
}

func (r *Run) end(to Status, exitCode *int, defaultMsg string, now time.Time) error {
	if err := r.transition(to); err != nil {
		return err
	}
	r.FinishedAt = &now
	r.ExitCode = exitCode
	r.Control.Abort = nil
	r.Control.PID, r.Control.PIDStartTime = 0, 0
	r.Control.Owner = "" // a resurrect is picked up by whichever server gets it
	r.closeSpan(now)
	if r.IsStatusMessageTerminal == nil || !*r.IsStatusMessageTerminal {
		r.StatusMessage = &defaultMsg
		t := true
		r.IsStatusMessageTerminal = &t
	}
	return nil
}

func (r *Run) closeSpan(now time.Time) {
	if r.Control.RunningSince != nil {
		r.Control.PastMillis += now.Sub(*r.Control.RunningSince).Milliseconds()
		r.Control.RunningSince = nil
	}
	r.UpdateDuration(now)
}

// UpdateDuration refreshes stats.durationMillis and stats.runTimeSecs: the
// time the run has spent running, not counting time between a finish and a
// resurrect.
func (r *Run) UpdateDuration(now time.Time) {
	ms := r.Control.PastMillis
	if r.Control.RunningSince != nil {
		ms += now.Sub(*r.Control.RunningSince).Milliseconds()
	}
	r.Stats.DurationMillis = ms
	r.Stats.RunTimeSecs = float64(ms) / 1000
	r.Stats.ComputeUnits = float64(ms) / 1000 / 3600 * float64(r.Options.MemoryMbytes) / 1024
}

// RequestAbort asks for the run to be aborted. A finished or already
// aborting run is left as it is (changed is false). A READY run with no
// process yet ends ABORTED at once; a live one becomes ABORTING and the
// controller stops its process (at once, or after the grace period when
// graceful).
func (r *Run) RequestAbort(graceful bool, now time.Time) (changed bool, err error) {
	switch r.Status {
	case StatusReady:
		return true, r.end(StatusAborted, nil, "Run was aborted", now)
	case StatusRunning, StatusTimingOut:
		if err := r.transition(StatusAborting); err != nil {
			return false, err
		}
		r.Control.Abort = &AbortRequest{Graceful: graceful, RequestedAt: now}
		return true, nil
	case StatusAborting:
		if !graceful && r.Control.Abort != nil && r.Control.Abort.Graceful {
			// An immediate abort cuts a graceful one short.
			r.Control.Abort = &AbortRequest{Graceful: false, RequestedAt: now}
			return true, nil
		}
	}
	return false, nil
}

// BeginTimeout moves a RUNNING run to TIMING-OUT.
func (r *Run) BeginTimeout() error {
	if r.Status != StatusRunning {
		return Errorf(ErrInvalidRequest, "Run %s is %s, not RUNNING.", r.ID, r.Status)
	}
	return r.transition(StatusTimingOut)
}

// Reboot restarts a RUNNING run's process with the same environment and
// storages.
func (r *Run) Reboot(now time.Time) error {
	if r.Status != StatusRunning {
		return Errorf(ErrRunNotRunning, "Only a RUNNING run can be rebooted; run %s is %s.", r.ID, r.Status)
	}
	r.Stats.RebootCount++
	r.Control.Generation++
	return nil
}

// Restart restarts a RUNNING run's process after its previous process was
// lost (migration) or failed with restartOnError set.
func (r *Run) Restart(migration bool, msg string, now time.Time) error {
	if r.Status != StatusRunning {
		return Errorf(ErrRunNotRunning, "Only a RUNNING run can be restarted; run %s is %s.", r.ID, r.Status)
	}
	if migration {
		r.Stats.MigrationCount++
	} else {
		r.Stats.RestartCount++
		r.Control.ErrorRestarts++
	}
	r.StatusMessage = &msg
	f := false
	r.IsStatusMessageTerminal = &f
	r.Control.PID, r.Control.PIDStartTime = 0, 0
	r.Control.Generation++
	return nil
}

// MetamorphInputKey is the key the input of the run's next metamorph is
// stored under: INPUT-METAMORPH-1, -2, ...
func (r *Run) MetamorphInputKey() string {
	return fmt.Sprintf("INPUT-METAMORPH-%d", len(r.Metamorphs)+1)
}

// Metamorph turns a RUNNING run into a run of another actor build (asked
// for as buildRef, a tag or number): same run id and storages, a new process
// that reads its input from inputKey.
func (r *Run) Metamorph(actorID string, b *Build, buildRef, inputKey string, now time.Time) error {
	if r.Status != StatusRunning {
		return Errorf(ErrRunNotRunning, "Only a RUNNING run can metamorph; run %s is %s.", r.ID, r.Status)
	}
	if len(r.Metamorphs) >= MaxMetamorphs {
		return Errorf(ErrMaxMetamorphs, "Run %s has already metamorphed %d times, the maximum.", r.ID, MaxMetamorphs)
	}
	r.Metamorphs = append(r.Metamorphs, Metamorph{CreatedAt: now, ActorID: actorID, BuildID: b.ID, InputKey: inputKey})
	r.Stats.Metamorph++
	r.ActID = actorID
	r.BuildID = b.ID
	r.BuildNumber = b.BuildNumber
	r.Options.Build = buildRef
	r.Control.InputKey = inputKey
	r.Control.Generation++
	return nil
}

// ResurrectOptions override a run's options on resurrect; nil keeps the
// value the run had.
type ResurrectOptions struct {
	Build          *Build
	MemoryMbytes   *int
	TimeoutSecs    *int
	MaxItems       *int
	RestartOnError *bool
}

// Resurrect brings a finished run back to RUNNING with the same storages. Its
// timeout counts from now; finishedAt and exitCode are cleared.
func (r *Run) Resurrect(o ResurrectOptions, now time.Time) error {
	if !r.Status.Terminal() {
		return Errorf(ErrRunNotFinished, "Only a finished run can be resurrected; run %s is %s.", r.ID, r.Status)
	}
	if err := r.transition(StatusRunning); err != nil {
		return err
	}
	if o.Build != nil {
		r.BuildID, r.BuildNumber, r.Options.Build = o.Build.ID, o.Build.BuildNumber, o.Build.BuildNumber
	}
	if o.MemoryMbytes != nil {
		r.Options.MemoryMbytes = *o.MemoryMbytes
		r.Options.DiskMbytes = 2 * *o.MemoryMbytes
	}
	if o.TimeoutSecs != nil {
		r.Options.TimeoutSecs = *o.TimeoutSecs
	}
	if o.MaxItems != nil {
		r.Options.MaxItems = o.MaxItems
	}
	if o.RestartOnError != nil {
		r.Options.RestartOnError = *o.RestartOnError
	}
	r.FinishedAt = nil
	r.ExitCode = nil
	r.StatusMessage = nil
	r.IsStatusMessageTerminal = nil
	r.Stats.ResurrectCount++
	r.Control.ErrorRestarts = 0
	r.Control.Abort = nil
	r.Control.RunningSince = &now
	r.SetTimeout(now)
	r.Control.Generation++
	return nil
}

// SetTimeout sets Control.TimeoutAt from options.timeoutSecs counted from now
// (0 means no timeout).
func (r *Run) SetTimeout(now time.Time) {
	if r.Options.TimeoutSecs > 0 {
		t := now.Add(time.Duration(r.Options.TimeoutSecs) * time.Second)
		r.Control.TimeoutAt = &t
	} else {
		r.Control.TimeoutAt = nil
	}
}

// SetStatusMessage sets the status message; terminal nil means false. A
// terminal message is kept when the run finishes; a later message without
// the flag is not terminal.
func (r *Run) SetStatusMessage(msg string, terminal *bool) {
	r.StatusMessage = &msg
	t := terminal != nil && *terminal
	r.IsStatusMessageTerminal = &t
}
