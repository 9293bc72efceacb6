package client

import (
	"encoding/json"
	"time"
)

// The types below are the API's objects as it sends them (the data member
// of an answer): the client decodes into them and nothing more.

// Status is the status of a run or build.
type Status string

// Statuses of runs and builds.
const (
	StatusReady     Status = "READY"
	StatusRunning   Status = "RUNNING"
	StatusSucceeded Status = "SUCCEEDED"
	StatusFailed    Status = "FAILED"
	StatusTimingOut Status = "TIMING-OUT"
	StatusTimedOut  Status = "TIMED-OUT"
	StatusAborting  Status = "ABORTING"
	StatusAborted   Status = "ABORTED"
)

// Valid reports whether s is one of the statuses above.
func (s Status) Valid() bool {
	switch s {
	case StatusReady, StatusRunning, StatusTimingOut, StatusAborting:
		return true
	}
	return s.Terminal()
}

// Terminal reports whether s is a final status: SUCCEEDED, FAILED,
// TIMED-OUT or ABORTED.
func (s Status) Terminal() bool {
	switch s {
	case StatusSucceeded, StatusFailed, StatusTimedOut, StatusAborted:
		return true
	}
	return false
}

// Run is an actor run.
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
}

// RunMeta says where a run or build came from.
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

// Metamorph is one metamorph of a run.
type Metamorph struct {
	CreatedAt time.Time `json:"createdAt"`
	ActorID   string    `json:"actorId"`
	BuildID   string    `json:"buildId"`
	InputKey  string    `json:"inputKey"`
}

// StorageIDs lists a run's storages by alias ("default" for the default
// ones).
type StorageIDs struct {
	Datasets       map[string]string `json:"datasets"`
	KeyValueStores map[string]string `json:"keyValueStores"`
	RequestQueues  map[string]string `json:"requestQueues"`
}

// Actor is an actor with its versions and default run options.
type Actor struct {
	ID                string                  `json:"id"`
	UserID            string                  `json:"userId"`
	Name              string                  `json:"name"`
	Username          string                  `json:"username"`
	Title             string                  `json:"title,omitempty"`
	Description       string                  `json:"description,omitempty"`
	IsPublic          bool                    `json:"isPublic"`
	CreatedAt         time.Time               `json:"createdAt"`
	ModifiedAt        time.Time               `json:"modifiedAt"`
	Stats             ActorStats              `json:"stats"`
	Versions          []Version               `json:"versions"`
	DefaultRunOptions DefaultRunOptions       `json:"defaultRunOptions"`
	TaggedBuilds      map[string]*TaggedBuild `json:"taggedBuilds"`
	ExampleRunInput   *ExampleRunInput        `json:"exampleRunInput,omitempty"`
	// RestartsForbidden (troupe's) makes a run whose process was lost end
	// FAILED instead of being restarted.
	RestartsForbidden bool `json:"restartsForbidden,omitempty"`
	// Image (troupe's), when set, is the OCI image the actor's new builds
	// use on the Kubernetes executor instead of their Dockerfile's FROM.
	Image string `json:"image,omitempty"`
}

// ActorStats are counters of an actor.
type ActorStats struct {
	TotalRuns        int        `json:"totalRuns"`
	TotalBuilds      int        `json:"totalBuilds"`
	LastRunStartedAt *time.Time `json:"lastRunStartedAt,omitempty"`
}

// DefaultRunOptions apply to runs that do not say otherwise.
type DefaultRunOptions struct {
	Build          string `json:"build"`
	TimeoutSecs    int    `json:"timeoutSecs"`
	MemoryMbytes   int    `json:"memoryMbytes"`
	RestartOnError bool   `json:"restartOnError"`
	MaxItems       *int   `json:"maxItems,omitempty"`
}

// TaggedBuild is the build a tag (e.g. "latest") points at.
type TaggedBuild struct {
	BuildID     string     `json:"buildId"`
	BuildNumber string     `json:"buildNumber"`
	FinishedAt  *time.Time `json:"finishedAt"`
}

// ExampleRunInput is a sample input of an actor.
type ExampleRunInput struct {
	Body        string `json:"body"`
	ContentType string `json:"contentType"`
}

// Source types of a version.
const (
	SourceFiles  = "SOURCE_FILES"
	SourceFolder = "SOURCE_FOLDER" // troupe's: a folder on the server's disk
)

// Version is a version ("MAJOR.MINOR") of an actor's source.
type Version struct {
	VersionNumber string       `json:"versionNumber"`
	SourceType    string       `json:"sourceType"`
	EnvVars       []EnvVar     `json:"envVars"`
	BuildTag      string       `json:"buildTag"`
	SourceFiles   []SourceFile `json:"sourceFiles,omitempty"`
	SourceDir     string       `json:"sourceDir,omitempty"`
}

// EnvVar is an environment variable a version gives its runs.
type EnvVar struct {
	Name     string `json:"name"`
	Value    string `json:"value"`
	IsSecret bool   `json:"isSecret,omitempty"`
}

// SourceFile is a file or folder of a SOURCE_FILES version; Format is TEXT
// or BASE64.
type SourceFile struct {
	Name    string `json:"name"`
	Format  string `json:"format,omitempty"`
	Content string `json:"content,omitempty"`
	Folder  bool   `json:"folder,omitempty"`
}

// Build is a build of an actor version.
type Build struct {
	ID          string         `json:"id"`
	ActID       string         `json:"actId"`
	UserID      string         `json:"userId"`
	StartedAt   time.Time      `json:"startedAt"`
	FinishedAt  *time.Time     `json:"finishedAt"`
	Status      Status         `json:"status"`
	Meta        RunMeta        `json:"meta"`
	Stats       BuildStats     `json:"stats"`
	Options     BuildSettings  `json:"options"`
	Usage       map[string]any `json:"usage"`
	BuildNumber string         `json:"buildNumber"`
	// InputSchema is the build's input schema as a JSON string.
	InputSchema *string `json:"inputSchema,omitempty"`
	// ActVersion is the actor version the build was made from.
	ActVersion *BuildVersion `json:"actVersion,omitempty"`
	Tag        string        `json:"buildTag,omitempty"`
	// StatusMessage says why a build did not succeed (troupe's addition).
	StatusMessage string `json:"statusMessage,omitempty"`
}

// BuildVersion names the actor version a build was made from. A build
// answers it as an object; an item of a build list as the version number
// alone, which UnmarshalJSON accepts too.
type BuildVersion struct {
	VersionNumber string `json:"versionNumber"`
	BuildTag      string `json:"buildTag,omitempty"`
}

// UnmarshalJSON reads the object or a bare version number.
func (v *BuildVersion) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		*v = BuildVersion{}
		return json.Unmarshal(b, &v.VersionNumber)
	}
	type plain BuildVersion
	return json.Unmarshal(b, (*plain)(v))
}

// BuildStats are the figures of a build.
type BuildStats struct {
	DurationMillis int64   `json:"durationMillis"`
	RunTimeSecs    float64 `json:"runTimeSecs"`
	ComputeUnits   float64 `json:"computeUnits"`
}

// BuildSettings are the options a build was started with.
type BuildSettings struct {
	UseCache     bool `json:"useCache"`
	BetaPackages bool `json:"betaPackages"`
	MemoryMbytes int  `json:"memoryMbytes"`
	DiskMbytes   int  `json:"diskMbytes"`
	TimeoutSecs  int  `json:"timeoutSecs,omitempty"`
}

// Storage is a dataset, key-value store or request queue; the counters
// are those of its kind.
type Storage struct {
	ID            string    `json:"id"`
	Name          *string   `json:"name"`
	Title         *string   `json:"title,omitempty"`
	UserID        string    `json:"userId"`
	Username      string    `json:"username,omitempty"`
	CreatedAt     time.Time `json:"createdAt"`
	ModifiedAt    time.Time `json:"modifiedAt"`
	AccessedAt    time.Time `json:"accessedAt"`
	ActID         *string   `json:"actId"`
	ActRunID      *string   `json:"actRunId"`
	GeneralAccess string    `json:"generalAccess"`

	// Dataset counters.
	ItemCount      *int64 `json:"itemCount,omitempty"`
	CleanItemCount *int64 `json:"cleanItemCount,omitempty"`
	// Request queue counters.
	TotalRequestCount   *int64 `json:"totalRequestCount,omitempty"`
	HandledRequestCount *int64 `json:"handledRequestCount,omitempty"`
	PendingRequestCount *int64 `json:"pendingRequestCount,omitempty"`
	HadMultipleClients  *bool  `json:"hadMultipleClients,omitempty"`
}

// Record is a key-value store record as stored: its bytes, content type
// and content encoding.
type Record struct {
	Key             string
	Value           []byte
	ContentType     string
	ContentEncoding string
}

// MaxKeyListLimit is the most keys one page of a key-value store lists.
const MaxKeyListLimit = 1000

// MaxBatchRequests is the most requests one batch call adds or deletes;
// the client splits longer batches.
const MaxBatchRequests = 25

// Request is a request of a request queue.
type Request struct {
	ID            string            `json:"id,omitempty"`
	UniqueKey     string            `json:"uniqueKey,omitempty"`
	URL           string            `json:"url"`
	Method        string            `json:"method,omitempty"`
	Payload       *string           `json:"payload,omitempty"`
	Headers       map[string]string `json:"headers,omitempty"`
	UserData      json.RawMessage   `json:"userData,omitempty"`
	RetryCount    int               `json:"retryCount,omitempty"`
	NoRetry       bool              `json:"noRetry,omitempty"`
	ErrorMessages []string          `json:"errorMessages,omitempty"`
	HandledAt     *time.Time        `json:"handledAt,omitempty"`
	LoadedURL     *string           `json:"loadedUrl,omitempty"`
	LockExpiresAt *time.Time        `json:"lockExpiresAt,omitempty"`
}

// RequestRef names a request by id or uniqueKey.
type RequestRef struct {
	ID        string `json:"id,omitempty"`
	UniqueKey string `json:"uniqueKey,omitempty"`
}

// RequestResult is the answer to adding or updating one request.
type RequestResult struct {
	RequestID         string `json:"requestId"`
	UniqueKey         string `json:"uniqueKey"`
	WasAlreadyPresent bool   `json:"wasAlreadyPresent"`
	WasAlreadyHandled bool   `json:"wasAlreadyHandled"`
}

// UnprocessedRequest is a request a batch did not add.
type UnprocessedRequest struct {
	UniqueKey string `json:"uniqueKey"`
	URL       string `json:"url"`
	Method    string `json:"method,omitempty"`
}

// BatchAddResult is the answer to a batch add.
type BatchAddResult struct {
	ProcessedRequests   []RequestResult      `json:"processedRequests"`
	UnprocessedRequests []UnprocessedRequest `json:"unprocessedRequests"`
}

// BatchDeleteResult is the answer to a batch delete.
type BatchDeleteResult struct {
	ProcessedRequests   []RequestRef `json:"processedRequests"`
	UnprocessedRequests []RequestRef `json:"unprocessedRequests"`
}

// HeadItem is a request at the head of a queue.
type HeadItem struct {
	ID            string     `json:"id"`
	UniqueKey     string     `json:"uniqueKey"`
	URL           string     `json:"url"`
	Method        string     `json:"method"`
	RetryCount    int        `json:"retryCount"`
	LockExpiresAt *time.Time `json:"lockExpiresAt,omitempty"`
}
