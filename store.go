package troupe

import (
	"context"
	"io"
	"time"
)

// ListOptions page through a collection ordered by creation time.
type ListOptions struct {
	Offset int
	Limit  int // 0 means the default (1000)
	Desc   bool
}

// RunFilter selects runs for a list; zero fields do not filter.
type RunFilter struct {
	ListOptions
	ActorID       string
	ActorTaskID   string
	Statuses      []Status
	StartedAfter  *time.Time // inclusive
	StartedBefore *time.Time // inclusive
}

// StorageTx lets a run update write key-value records in the same
// transaction as the run itself.
type StorageTx interface {
	PutRecord(ctx context.Context, storeID string, rec *Record) error
}

// RunMutation changes a run inside a store transaction. Returning an error
// aborts the transaction and nothing is written.
type RunMutation func(r *Run, tx StorageTx) error

// ActorStore keeps actors and their builds.
type ActorStore interface {
	// CreateActor stores a new actor. actor-name-not-unique when the user
	// already has an actor of that name.
	CreateActor(ctx context.Context, a *Actor) error
	// GetActor returns an actor by id. record-not-found.
	GetActor(ctx context.Context, id string) (*Actor, error)
	// GetActorByName returns an actor by its owner's username and its name.
	// record-not-found.
	GetActorByName(ctx context.Context, username, name string) (*Actor, error)
	// ListActors lists actors by createdAt; it returns the page and the total.
	ListActors(ctx context.Context, o ListOptions) ([]*Actor, int, error)
	// UpdateActor changes an actor in one transaction. record-not-found,
	// actor-name-not-unique.
	UpdateActor(ctx context.Context, id string, fn func(a *Actor) error) (*Actor, error)
	// DeleteActor deletes an actor and its builds. record-not-found.
	DeleteActor(ctx context.Context, id string) error

	// CreateBuild stores a new build and gives it the next build number of
	// its actor version (MAJOR.MINOR.N, N from 1), atomically.
	CreateBuild(ctx context.Context, b *Build) error
	// GetBuild returns a build by id. record-not-found.
	GetBuild(ctx context.Context, id string) (*Build, error)
	// GetBuildByNumber returns an actor's build by its number. record-not-found.
	GetBuildByNumber(ctx context.Context, actorID, number string) (*Build, error)
	// ListBuilds lists an actor's builds by startedAt.
	ListBuilds(ctx context.Context, actorID string, o ListOptions) ([]*Build, int, error)
	// UpdateBuild changes a build in one transaction. record-not-found.
	UpdateBuild(ctx context.Context, id string, fn func(b *Build) error) (*Build, error)
	// DeleteBuild deletes a finished build and its log: one that has not
	// finished is deleting-unfinished-build, one a tag of its actor points
	// at is deleting-default-build. record-not-found.
	DeleteBuild(ctx context.Context, id string) error
}

// RunStore keeps runs. Every status change goes through UpdateRun, which is a
// compare-and-set on the run's version.
type RunStore interface {
	// CreateRun stores a new run, its default dataset, key-value store and
	// request queue (ids already set on r) and, when input is not nil, its
	// INPUT record, all in one transaction.
	CreateRun(ctx context.Context, r *Run, input *Record) error
	// GetRun returns a run by id. record-not-found.
	GetRun(ctx context.Context, id string) (*Run, error)
	// RunVersion returns the Version of the run GetRun would return, without
	// reading the rest of it (a reader that keeps an earlier read of the run
	// can tell whether it is still current). record-not-found.
	RunVersion(ctx context.Context, id string) (int64, error)
	// RunStatus returns the Status of the run GetRun would return, without
	// reading the rest of it (waitForFinish looks at it at every change of
	// the run and reads the whole run only once it is terminal).
	// record-not-found.
	RunStatus(ctx context.Context, id string) (Status, error)
	// ListRuns lists runs by startedAt; it returns the page and the total.
	ListRuns(ctx context.Context, f RunFilter) ([]*Run, int, error)
	// LastRun returns the actor's most recently started run, of the given
	// status when status is not empty. record-not-found.
	LastRun(ctx context.Context, actorID string, status Status) (*Run, error)
	// ActiveRuns returns every run that is not terminal.
	ActiveRuns(ctx context.Context) ([]*Run, error)
	// UpdateRun reads the run, applies fn and writes the result in one
	// transaction, failing with conflict if the run changed in between.
	// record-not-found, or fn's error.
	UpdateRun(ctx context.Context, id string, fn RunMutation) (*Run, error)
	// UpdateRunFrom is UpdateRun for a caller that holds the run as the
	// store had it at base.Version (returned by GetRun, UpdateRun or
	// CreateRun): while the stored run is still at that version, fn is
	// applied to base.Clone() instead of a fresh read of the whole run;
	// otherwise to the run as stored, as UpdateRun does. base itself is
	// not changed. record-not-found, conflict, or fn's error.
	UpdateRunFrom(ctx context.Context, base *Run, fn RunMutation) (*Run, error)
	// DeleteRun deletes a run, its log, its ad-hoc webhooks and those of its
	// default storages that no other run uses. record-not-found.
	DeleteRun(ctx context.Context, id string) error
}

// LogStore keeps the logs of runs and builds, one ordered list of chunks per
// job.
type LogStore interface {
	// AppendLog appends text (whole lines, each ending in "\n") to a job's log.
	AppendLog(ctx context.Context, jobID string, text []byte) error
	// ReadLog returns the log text after the chunk afterSeq (0: from the
	// start) and the sequence number to read on from. It returns whole
	// chunks and stops after the one that brings the text to LogReadBytes,
	// so a long log is read in several calls, each time from the returned
	// sequence number, until the text is empty.
	ReadLog(ctx context.Context, jobID string, afterSeq int64) ([]byte, int64, error)
	// AppendMarkedLog is AppendLog that records mark with text, in the same
	// transaction: the log holds mark.Lines outputs of the process of
	// generation mark.Generation once text is appended.
	AppendMarkedLog(ctx context.Context, jobID string, text []byte, mark LogMark) error
	// LastLogMark returns the mark of the job's latest AppendMarkedLog (the
	// zero LogMark without one).
	LastLogMark(ctx context.Context, jobID string) (LogMark, error)
}

// LogMark says how much of a run process's output a run's log holds: the
// first Lines calls of ExecSpec.Output of the process of the run's
// generation Generation. A server that adopts the process (RemoteExecutor)
// resumes its output after them.
type LogMark struct {
	Generation int
	Lines      int64
}

// LogReadBytes is about how much log text one ReadLog call returns at most
// (more only when a single chunk is larger).
const LogReadBytes = 1 << 20

// RecordStore keeps key-value stores and their records.
type RecordStore interface {
	// CreateStorage stores a new storage of s.Kind. With a name, an existing
	// storage of that kind and name is returned instead (created=false).
	CreateStorage(ctx context.Context, s *Storage) (got *Storage, created bool, err error)
	// GetStorage returns a storage by kind and id. record-not-found.
	GetStorage(ctx context.Context, kind StorageKind, id string) (*Storage, error)
	// GetStorageByName returns a storage by kind and name. record-not-found.
	GetStorageByName(ctx context.Context, kind StorageKind, name string) (*Storage, error)
	// ListStorages lists storages of a kind by createdAt; unnamed ones only
	// when unnamed is set.
	ListStorages(ctx context.Context, kind StorageKind, unnamed bool, o ListOptions) ([]*Storage, int, error)
	// UpdateStorage changes a storage's name or title. record-not-found.
	UpdateStorage(ctx context.Context, kind StorageKind, id string, fn func(s *Storage) error) (*Storage, error)
	// DeleteStorage deletes a storage and its content. record-not-found.
	DeleteStorage(ctx context.Context, kind StorageKind, id string) error

	// GetRecord returns a record. record-not-found.
	GetRecord(ctx context.Context, storeID, key string) (*Record, error)
	// PutRecord creates or replaces a record. record-not-found (no store).
	PutRecord(ctx context.Context, storeID string, rec *Record) error
	// DeleteRecord deletes a record. record-not-found.
	DeleteRecord(ctx context.Context, storeID, key string) error
	// ListKeys returns up to limit (1..MaxKeyListLimit; other values mean
	// the maximum) keys of a store that start with prefix and sort after
	// exclusiveStartKey (when not empty), in UTF-8 byte order.
	// record-not-found (no store).
	ListKeys(ctx context.Context, storeID, exclusiveStartKey, prefix string, limit int) (*KeyPage, error)
}

// InstanceStore tracks the troupe servers (replicas) that share a store, so
// that one can tell when another has died and take over its runs.
type InstanceStore interface {
	// Heartbeat records that the instance is alive at now.
	Heartbeat(ctx context.Context, instance string, now time.Time) error
	// Instances returns the last heartbeat of every instance.
	Instances(ctx context.Context) (map[string]time.Time, error)
}

// ArtifactStore is where build archives live: each kept once, under the
// sha256 digest of its content, so that any replica that shares it can
// fetch a build another one made. Implementations: the store itself
// (sqlite, postgres: chunks in the database, the default) and S3-compatible
// object storage (package s3); artifacttest is the suite they all pass.
type ArtifactStore interface {
	// PutArtifact reads r to its end and keeps what it read, streaming it
	// (never more than a bounded buffer in memory: a chunk of
	// ArtifactChunkBytes in the store, one upload part in S3). It returns
	// the content's digest (64 lowercase hex digits of its sha256) and its
	// size. Content already kept is kept once. When r or ctx fails, it
	// returns that error and nothing is kept that a reader could take for
	// the content or any part of it.
	PutArtifact(ctx context.Context, r io.Reader) (digest string, size int64, err error)
	// OpenArtifact returns a reader of the artifact with that digest and
	// its size. The reader streams the content with ctx, and fails instead
	// of ending when what it read is not that size or does not hash to the
	// digest. The caller closes it. record-not-found.
	OpenArtifact(ctx context.Context, digest string) (io.ReadCloser, int64, error)
}

// WithArtifacts returns s with new build archives kept in a instead of in
// s itself. An archive a does not have is read from s, where archives made
// before lie.
func WithArtifacts(s Store, a ArtifactStore) Store { return artifactsIn{s, a} }

type artifactsIn struct {
	Store
	a ArtifactStore
}

func (s artifactsIn) PutArtifact(ctx context.Context, r io.Reader) (string, int64, error) {
	return s.a.PutArtifact(ctx, r)
}

func (s artifactsIn) OpenArtifact(ctx context.Context, digest string) (io.ReadCloser, int64, error) {
	rc, size, err := s.a.OpenArtifact(ctx, digest)
	if ErrorType(err) == ErrRecordNotFound {
		return s.Store.OpenArtifact(ctx, digest)
	}
	return rc, size, err
}

// ArtifactChunkBytes is the size of the chunks the store keeps an artifact
// in (the last one may be shorter).
const ArtifactChunkBytes = 1 << 20

// Store is everything troupe keeps. Implementations: sqlite, postgres.
type Store interface {
	InstanceStore
	ActorStore
	RunStore
	LogStore
	RecordStore
	DatasetStore
	QueueStore
	WebhookStore
	ArtifactStore
	TaskStore
	ScheduleStore
	// Setting returns the value of a server-wide setting, storing def first
	// when the setting has none (so every replica agrees on it).
	Setting(ctx context.Context, key, def string) (string, error)
	// Watch returns a channel that receives a value after the job (run or
	// build) with this id changes, and a function that stops the watch. A
	// log append does not signal it (see WatchLog). Sends never block; a
	// change is never lost between two receives (the channel has room for
	// one pending signal). Watch(RunCreatedKey) receives a value after a
	// run was created.
	Watch(jobID string) (<-chan struct{}, func())
	// WatchLog is Watch for the job's log: the channel receives a value
	// after the job's log grows (AppendLog), and not when the job itself
	// changes. Same guarantees as Watch.
	WatchLog(jobID string) (<-chan struct{}, func())
	Close() error
}

// RunCreatedKey is the change key (Store.Watch) announced when a run is
// created, on every replica sharing the store: lists of runs (the web
// console's) follow it to show new runs.
const RunCreatedKey = "runs-created"
