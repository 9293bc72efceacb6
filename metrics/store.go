package metrics

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/troupehq/troupe"
)

// Store wraps st so that every call is timed (troupe_store_operation_duration_seconds)
// and the store's own failures counted (troupe_store_errors_total), and
// counts the status changes written through it: runs created, started
// (READY → RUNNING, with the start latency) and finished, builds started
// and finished, and runs taken over from another replica (a run's owner
// replaced by another one). Every status change of a run or build is one
// UpdateRun or UpdateBuild, so a server that uses only the wrapper for its
// writes has every change it makes counted, whichever part made it.
func (m *Metrics) Store(st troupe.Store) troupe.Store {
	s := &store{Store: st, m: m, ops: map[string]op{}}
	for _, name := range storeOps {
		s.ops[name] = op{m.storeOps.WithLabelValues(name), m.storeErrors.WithLabelValues(name)}
	}
	return s
}

// storeOps are the store methods the wrapper times.
var storeOps = []string{
	"ActiveRuns", "AddRequest", "OpenArtifact", "PutArtifact", "AppendLog", "AppendMarkedLog", "LastLogMark", "BatchAddRequests", "BatchDeleteRequests",
	"CreateActor", "CreateBuild", "CreateRun", "CreateStorage", "DeleteActor", "DeleteBuild", "DeleteRecord",
	"DeleteRequest", "DeleteRequestLock", "DeleteRun", "DeleteStorage", "GetActor",
	"GetActorByName", "GetBuild", "GetBuildByNumber", "GetRecord", "GetRequest", "GetRun",
	"GetStorage", "GetStorageByName", "Head", "Heartbeat", "Instances", "LastRun", "ListActors",
	"ListBuilds", "ListKeys", "ListRequests", "ListRuns", "ListStorages", "LockHead",
	"ProlongRequestLock", "PushItems", "PutRecord", "ReadItems", "ReadLog", "RunStatus", "RunVersion",
	"Setting", "UnlockRequests", "UpdateActor", "UpdateBuild", "UpdateRequest", "UpdateRun", "UpdateRunFrom",
	"UpdateStorage",
	"ClaimDispatches", "CreateWebhook", "DeleteWebhook", "FinishCall", "GetDispatch", "GetWebhook",
	"ListDispatches", "ListWebhooks", "NextDispatchAt", "TestWebhook", "UpdateWebhook",
	"CreateTask", "GetTask", "GetTaskByName", "ListTasks", "UpdateTask", "DeleteTask",
	"CreateSchedule", "GetSchedule", "GetScheduleByName", "ListSchedules", "DueSchedules", "UpdateSchedule",
	"DeleteSchedule", "FireSchedule", "ScheduleLog",
}

type op struct {
	duration prometheus.Observer
	errors   prometheus.Counter
}

type store struct {
	troupe.Store
	m   *Metrics
	ops map[string]op
}

var _ troupe.Store = (*store)(nil)

// done records a call of the method name that began at start and ended
// with err; fnErr is the error of the caller's callback, if any, which is
// not the store's.
func (s *store) done(name string, start time.Time, err error) {
	s.doneFn(name, time.Since(start), err, nil)
}

func (s *store) doneFn(name string, d time.Duration, err, fnErr error) {
	o := s.ops[name]
	o.duration.Observe(d.Seconds())
	if err != nil && troupe.ErrorType(err) == troupe.ErrInternal &&
		!errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) &&
		(fnErr == nil || !errors.Is(err, fnErr)) {
		o.errors.Inc()
	}
}

// CreateRun counts the run as created once it is stored.
func (s *store) CreateRun(ctx context.Context, r *troupe.Run, input *troupe.Record) error {
	t := time.Now()
	err := s.Store.CreateRun(ctx, r, input)
	s.done("CreateRun", t, err)
	if err == nil {
		s.m.runsCreated.Inc()
	}
	return err
}

// UpdateRun counts the status change (and change of owner) the write
// made: the run as fn received it in the transaction that committed,
// against the run written.
func (s *store) UpdateRun(ctx context.Context, id string, fn troupe.RunMutation) (*troupe.Run, error) {
	return s.updateRun("UpdateRun", fn, func(fn troupe.RunMutation) (*troupe.Run, error) {
		return s.Store.UpdateRun(ctx, id, fn)
	})
}

// UpdateRunFrom counts as UpdateRun does.
func (s *store) UpdateRunFrom(ctx context.Context, base *troupe.Run, fn troupe.RunMutation) (*troupe.Run, error) {
	return s.updateRun("UpdateRunFrom", fn, func(fn troupe.RunMutation) (*troupe.Run, error) {
		return s.Store.UpdateRunFrom(ctx, base, fn)
	})
}

func (s *store) updateRun(op string, fn troupe.RunMutation, update func(troupe.RunMutation) (*troupe.Run, error)) (*troupe.Run, error) {
	var before struct {
		status troupe.Status
		owner  string
	}
	var fnErr error
	t := time.Now()
	r, err := update(func(r *troupe.Run, tx troupe.StorageTx) error {
		before.status, before.owner = r.Status, r.Control.Owner
		fnErr = fn(r, tx)
		return fnErr
	})
	s.doneFn(op, time.Since(t), err, fnErr)
	if err != nil {
		return r, err
	}
	m := s.m
	switch {
	case before.status == troupe.StatusReady && r.Status == troupe.StatusRunning:
		m.runsStarted.Inc()
		if r.Control.RunningSince != nil {
			m.startLatency.Observe(max(r.Control.RunningSince.Sub(r.StartedAt), 0).Seconds())
		}
	case !before.status.Terminal() && r.Status.Terminal():
		m.runsFinished.WithLabelValues(string(r.Status)).Inc()
	}
	if before.owner != "" && r.Control.Owner != "" && r.Control.Owner != before.owner {
		m.takeovers.Inc()
	}
	return r, nil
}

// UpdateBuild counts the build's status change, as UpdateRun does.
func (s *store) UpdateBuild(ctx context.Context, id string, fn func(b *troupe.Build) error) (*troupe.Build, error) {
	var before troupe.Status
	var fnErr error
	t := time.Now()
	b, err := s.Store.UpdateBuild(ctx, id, func(b *troupe.Build) error {
		before = b.Status
		fnErr = fn(b)
		return fnErr
	})
	s.doneFn("UpdateBuild", time.Since(t), err, fnErr)
	if err != nil {
		return b, err
	}
	switch {
	case before == troupe.StatusReady && b.Status == troupe.StatusRunning:
		s.m.buildsStarted.Inc()
	case !before.Terminal() && b.Status.Terminal():
		s.m.buildsFinished.WithLabelValues(string(b.Status)).Inc()
	}
	return b, nil
}

func (s *store) UpdateActor(ctx context.Context, id string, fn func(a *troupe.Actor) error) (*troupe.Actor, error) {
	var fnErr error
	t := time.Now()
	a, err := s.Store.UpdateActor(ctx, id, func(a *troupe.Actor) error {
		fnErr = fn(a)
		return fnErr
	})
	s.doneFn("UpdateActor", time.Since(t), err, fnErr)
	return a, err
}

func (s *store) UpdateStorage(ctx context.Context, kind troupe.StorageKind, id string, fn func(st *troupe.Storage) error) (*troupe.Storage, error) {
	var fnErr error
	t := time.Now()
	st, err := s.Store.UpdateStorage(ctx, kind, id, func(st *troupe.Storage) error {
		fnErr = fn(st)
		return fnErr
	})
	s.doneFn("UpdateStorage", time.Since(t), err, fnErr)
	return st, err
}

// ReadItems leaves the time spent in fn (writing items to a client) out
// of the duration it records.
func (s *store) ReadItems(ctx context.Context, datasetID string, o troupe.ItemWindow, fn func(p troupe.ItemPage, item []byte) error) (troupe.ItemPage, error) {
	var inFn time.Duration
	var fnErr error
	t := time.Now()
	p, err := s.Store.ReadItems(ctx, datasetID, o, func(p troupe.ItemPage, item []byte) error {
		ft := time.Now()
		fnErr = fn(p, item)
		inFn += time.Since(ft)
		return fnErr
	})
	s.doneFn("ReadItems", time.Since(t)-inFn, err, fnErr)
	return p, err
}

// The other methods are timed as they are.

func (s *store) ActiveRuns(ctx context.Context) ([]*troupe.Run, error) {
	t := time.Now()
	v0, err := s.Store.ActiveRuns(ctx)
	s.done("ActiveRuns", t, err)
	return v0, err
}

func (s *store) AddRequest(ctx context.Context, queueID string, r *troupe.Request, forefront bool, c troupe.QueueCaller) (*troupe.RequestResult, error) {
	t := time.Now()
	v0, err := s.Store.AddRequest(ctx, queueID, r, forefront, c)
	s.done("AddRequest", t, err)
	return v0, err
}

func (s *store) AppendLog(ctx context.Context, jobID string, text []byte) error {
	t := time.Now()
	err := s.Store.AppendLog(ctx, jobID, text)
	s.done("AppendLog", t, err)
	return err
}

func (s *store) AppendMarkedLog(ctx context.Context, jobID string, text []byte, mark troupe.LogMark) error {
	t := time.Now()
	err := s.Store.AppendMarkedLog(ctx, jobID, text, mark)
	s.done("AppendMarkedLog", t, err)
	return err
}

func (s *store) LastLogMark(ctx context.Context, jobID string) (troupe.LogMark, error) {
	t := time.Now()
	v0, err := s.Store.LastLogMark(ctx, jobID)
	s.done("LastLogMark", t, err)
	return v0, err
}

func (s *store) BatchAddRequests(ctx context.Context, queueID string, rs []*troupe.Request, forefront bool, c troupe.QueueCaller) (*troupe.BatchAddResult, error) {
	t := time.Now()
	v0, err := s.Store.BatchAddRequests(ctx, queueID, rs, forefront, c)
	s.done("BatchAddRequests", t, err)
	return v0, err
}

func (s *store) BatchDeleteRequests(ctx context.Context, queueID string, refs []troupe.RequestRef, c troupe.QueueCaller) (*troupe.BatchDeleteResult, error) {
	t := time.Now()
	v0, err := s.Store.BatchDeleteRequests(ctx, queueID, refs, c)
	s.done("BatchDeleteRequests", t, err)
	return v0, err
}

func (s *store) CreateActor(ctx context.Context, a *troupe.Actor) error {
	t := time.Now()
	err := s.Store.CreateActor(ctx, a)
	s.done("CreateActor", t, err)
	return err
}

func (s *store) CreateBuild(ctx context.Context, b *troupe.Build) error {
	t := time.Now()
	err := s.Store.CreateBuild(ctx, b)
	s.done("CreateBuild", t, err)
	return err
}

func (s *store) CreateStorage(ctx context.Context, st *troupe.Storage) (*troupe.Storage, bool, error) {
	t := time.Now()
	v0, v1, err := s.Store.CreateStorage(ctx, st)
	s.done("CreateStorage", t, err)
	return v0, v1, err
}

func (s *store) DeleteActor(ctx context.Context, id string) error {
	t := time.Now()
	err := s.Store.DeleteActor(ctx, id)
	s.done("DeleteActor", t, err)
	return err
}

func (s *store) DeleteRecord(ctx context.Context, storeID, key string) error {
	t := time.Now()
	err := s.Store.DeleteRecord(ctx, storeID, key)
	s.done("DeleteRecord", t, err)
	return err
}

func (s *store) DeleteRequest(ctx context.Context, queueID, requestID string, c troupe.QueueCaller) error {
	t := time.Now()
	err := s.Store.DeleteRequest(ctx, queueID, requestID, c)
	s.done("DeleteRequest", t, err)
	return err
}

func (s *store) DeleteRequestLock(ctx context.Context, queueID, requestID string, forefront bool, c troupe.QueueCaller) error {
	t := time.Now()
	err := s.Store.DeleteRequestLock(ctx, queueID, requestID, forefront, c)
	s.done("DeleteRequestLock", t, err)
	return err
}

func (s *store) DeleteBuild(ctx context.Context, id string) error {
	t := time.Now()
	err := s.Store.DeleteBuild(ctx, id)
	s.done("DeleteBuild", t, err)
	return err
}

func (s *store) DeleteRun(ctx context.Context, id string) error {
	t := time.Now()
	err := s.Store.DeleteRun(ctx, id)
	s.done("DeleteRun", t, err)
	return err
}

func (s *store) DeleteStorage(ctx context.Context, kind troupe.StorageKind, id string) error {
	t := time.Now()
	err := s.Store.DeleteStorage(ctx, kind, id)
	s.done("DeleteStorage", t, err)
	return err
}

func (s *store) GetActor(ctx context.Context, id string) (*troupe.Actor, error) {
	t := time.Now()
	v0, err := s.Store.GetActor(ctx, id)
	s.done("GetActor", t, err)
	return v0, err
}

func (s *store) GetActorByName(ctx context.Context, username, name string) (*troupe.Actor, error) {
	t := time.Now()
	v0, err := s.Store.GetActorByName(ctx, username, name)
	s.done("GetActorByName", t, err)
	return v0, err
}

func (s *store) GetBuild(ctx context.Context, id string) (*troupe.Build, error) {
	t := time.Now()
	v0, err := s.Store.GetBuild(ctx, id)
	s.done("GetBuild", t, err)
	return v0, err
}

func (s *store) GetBuildByNumber(ctx context.Context, actorID, number string) (*troupe.Build, error) {
	t := time.Now()
	v0, err := s.Store.GetBuildByNumber(ctx, actorID, number)
	s.done("GetBuildByNumber", t, err)
	return v0, err
}

func (s *store) GetRecord(ctx context.Context, storeID, key string) (*troupe.Record, error) {
	t := time.Now()
	v0, err := s.Store.GetRecord(ctx, storeID, key)
	s.done("GetRecord", t, err)
	return v0, err
}

func (s *store) GetRequest(ctx context.Context, queueID, requestID string) (*troupe.Request, error) {
	t := time.Now()
	v0, err := s.Store.GetRequest(ctx, queueID, requestID)
	s.done("GetRequest", t, err)
	return v0, err
}

func (s *store) GetRun(ctx context.Context, id string) (*troupe.Run, error) {
	t := time.Now()
	v0, err := s.Store.GetRun(ctx, id)
	s.done("GetRun", t, err)
	return v0, err
}

func (s *store) GetStorage(ctx context.Context, kind troupe.StorageKind, id string) (*troupe.Storage, error) {
	t := time.Now()
	v0, err := s.Store.GetStorage(ctx, kind, id)
	s.done("GetStorage", t, err)
	return v0, err
}

func (s *store) GetStorageByName(ctx context.Context, kind troupe.StorageKind, name string) (*troupe.Storage, error) {
	t := time.Now()
	v0, err := s.Store.GetStorageByName(ctx, kind, name)
	s.done("GetStorageByName", t, err)
	return v0, err
}

func (s *store) Head(ctx context.Context, queueID string, limit int, c troupe.QueueCaller) (*troupe.QueueHead, error) {
	t := time.Now()
	v0, err := s.Store.Head(ctx, queueID, limit, c)
	s.done("Head", t, err)
	return v0, err
}

func (s *store) Heartbeat(ctx context.Context, instance string, now time.Time) error {
	t := time.Now()
	err := s.Store.Heartbeat(ctx, instance, now)
	s.done("Heartbeat", t, err)
	return err
}

func (s *store) Instances(ctx context.Context) (map[string]time.Time, error) {
	t := time.Now()
	v0, err := s.Store.Instances(ctx)
	s.done("Instances", t, err)
	return v0, err
}

func (s *store) LastRun(ctx context.Context, actorID string, status troupe.Status) (*troupe.Run, error) {
	t := time.Now()
	v0, err := s.Store.LastRun(ctx, actorID, status)
	s.done("LastRun", t, err)
	return v0, err
}

func (s *store) ListActors(ctx context.Context, o troupe.ListOptions) ([]*troupe.Actor, int, error) {
	t := time.Now()
	v0, v1, err := s.Store.ListActors(ctx, o)
	s.done("ListActors", t, err)
	return v0, v1, err
}

func (s *store) ListBuilds(ctx context.Context, actorID string, o troupe.ListOptions) ([]*troupe.Build, int, error) {
	t := time.Now()
	v0, v1, err := s.Store.ListBuilds(ctx, actorID, o)
	s.done("ListBuilds", t, err)
	return v0, v1, err
}

func (s *store) ListKeys(ctx context.Context, storeID, exclusiveStartKey, prefix string, limit int) (*troupe.KeyPage, error) {
	t := time.Now()
	v0, err := s.Store.ListKeys(ctx, storeID, exclusiveStartKey, prefix, limit)
	s.done("ListKeys", t, err)
	return v0, err
}

func (s *store) ListRequests(ctx context.Context, queueID string, o troupe.RequestListOptions) (*troupe.RequestPage, error) {
	t := time.Now()
	v0, err := s.Store.ListRequests(ctx, queueID, o)
	s.done("ListRequests", t, err)
	return v0, err
}

func (s *store) ListRuns(ctx context.Context, f troupe.RunFilter) ([]*troupe.Run, int, error) {
	t := time.Now()
	v0, v1, err := s.Store.ListRuns(ctx, f)
	s.done("ListRuns", t, err)
	return v0, v1, err
}

func (s *store) ListStorages(ctx context.Context, kind troupe.StorageKind, unnamed bool, o troupe.ListOptions) ([]*troupe.Storage, int, error) {
	t := time.Now()
	v0, v1, err := s.Store.ListStorages(ctx, kind, unnamed, o)
	s.done("ListStorages", t, err)
	return v0, v1, err
}

func (s *store) LockHead(ctx context.Context, queueID string, o troupe.LockOptions) (*troupe.QueueHead, error) {
	t := time.Now()
	v0, err := s.Store.LockHead(ctx, queueID, o)
	s.done("LockHead", t, err)
	return v0, err
}

func (s *store) ProlongRequestLock(ctx context.Context, queueID, requestID string, o troupe.LockOptions) (time.Time, error) {
	t := time.Now()
	v0, err := s.Store.ProlongRequestLock(ctx, queueID, requestID, o)
	s.done("ProlongRequestLock", t, err)
	return v0, err
}

func (s *store) PushItems(ctx context.Context, datasetID string, items []json.RawMessage) error {
	t := time.Now()
	err := s.Store.PushItems(ctx, datasetID, items)
	s.done("PushItems", t, err)
	return err
}

func (s *store) PutRecord(ctx context.Context, storeID string, rec *troupe.Record) error {
	t := time.Now()
	err := s.Store.PutRecord(ctx, storeID, rec)
	s.done("PutRecord", t, err)
	return err
}

func (s *store) ReadLog(ctx context.Context, jobID string, afterSeq int64) ([]byte, int64, error) {
	t := time.Now()
	v0, v1, err := s.Store.ReadLog(ctx, jobID, afterSeq)
	s.done("ReadLog", t, err)
	return v0, v1, err
}

func (s *store) RunVersion(ctx context.Context, id string) (int64, error) {
	t := time.Now()
	v0, err := s.Store.RunVersion(ctx, id)
	s.done("RunVersion", t, err)
	return v0, err
}

func (s *store) RunStatus(ctx context.Context, id string) (troupe.Status, error) {
	t := time.Now()
	v0, err := s.Store.RunStatus(ctx, id)
	s.done("RunStatus", t, err)
	return v0, err
}

func (s *store) Setting(ctx context.Context, key, def string) (string, error) {
	t := time.Now()
	v0, err := s.Store.Setting(ctx, key, def)
	s.done("Setting", t, err)
	return v0, err
}

func (s *store) UnlockRequests(ctx context.Context, queueID string, c troupe.QueueCaller) (int, error) {
	t := time.Now()
	v0, err := s.Store.UnlockRequests(ctx, queueID, c)
	s.done("UnlockRequests", t, err)
	return v0, err
}

func (s *store) UpdateRequest(ctx context.Context, queueID string, r *troupe.Request, forefront bool, c troupe.QueueCaller) (*troupe.RequestResult, error) {
	t := time.Now()
	v0, err := s.Store.UpdateRequest(ctx, queueID, r, forefront, c)
	s.done("UpdateRequest", t, err)
	return v0, err
}

func (s *store) PutArtifact(ctx context.Context, r io.Reader) (string, int64, error) {
	t := time.Now()
	v0, v1, err := s.Store.PutArtifact(ctx, r)
	s.done("PutArtifact", t, err)
	return v0, v1, err
}

func (s *store) OpenArtifact(ctx context.Context, digest string) (io.ReadCloser, int64, error) {
	t := time.Now()
	v0, v1, err := s.Store.OpenArtifact(ctx, digest)
	s.done("OpenArtifact", t, err)
	return v0, v1, err
}
