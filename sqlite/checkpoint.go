package sqlite

import (
	"context"
	"database/sql"
	"sync"
	"time"
)

// WAL checkpoints copy the pages written to the -wal file back into the
// database file, so that the WAL can start over. By default SQLite runs one
// inside the COMMIT that takes the WAL past 1,000 pages, on the writer's
// own connection: that commit then waits for the copy and two fsyncs, tens
// of milliseconds on a busy disk, and so do the writes queued behind it
// (the start latency tail). Here the write connection never checkpoints
// (wal_autocheckpoint=0); a background goroutine does, on a connection of
// its own:
//
//   - after a commit, at most one PASSIVE checkpoint every
//     checkpointEvery: it copies what no reader still needs, without
//     taking any lock a writer or reader waits for;
//   - when the WAL has grown past walLimitPages (a reader kept old pages
//     needed for long, so PASSIVE could not finish), a RESTART checkpoint,
//     which waits (up to checkpointWait) for those readers and holds back
//     writers meanwhile, so that the WAL starts over from its beginning.
//
// The WAL therefore stays near walLimitPages × the page size (4 KiB): 64
// MiB at most, except while a single read transaction lasts longer than
// checkpointWait. A write of the next transaction reuses the WAL from its
// start once a checkpoint has copied it all.
const (
	checkpointEvery = 100 * time.Millisecond
	walLimitPages   = 16384
	checkpointWait  = 2 * time.Second
)

// checkpointer runs the WAL checkpoints of one database file.
type checkpointer struct {
	db    *sql.DB // its own single connection
	kick  chan struct{}
	limit int
	every time.Duration
	hook  func(mode string, logPages, copied int, err error)

	stop     chan struct{}
	done     sync.WaitGroup
	stopOnce sync.Once
}

func newCheckpointer(db *sql.DB, limit int, hook func(string, int, int, error)) *checkpointer {
	c := &checkpointer{db: db, kick: make(chan struct{}, 1), limit: limit, every: checkpointEvery,
		hook: hook, stop: make(chan struct{})}
	c.done.Add(1)
	go c.loop()
	return c
}

// committed tells the checkpointer that a write transaction committed; it
// never blocks.
func (c *checkpointer) committed() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// close stops the goroutine (a last checkpoint is SQLite's own, when the
// last connection closes); later calls do nothing.
func (c *checkpointer) close() {
	c.stopOnce.Do(func() {
		close(c.stop)
		c.done.Wait()
		c.db.Close()
	})
}

func (c *checkpointer) loop() {
	defer c.done.Done()
	t := time.NewTimer(0)
	<-t.C
	for {
		select {
		case <-c.stop:
			return
		case <-c.kick:
		}
		c.checkpoint()
		// At most one checkpoint per period: commits in between are
		// copied by the next one.
		t.Reset(c.every)
		select {
		case <-c.stop:
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// checkpoint runs a PASSIVE checkpoint and, when the WAL is still past
// its limit, a RESTART one.
func (c *checkpointer) checkpoint() {
	logPages, copied, err := c.run("PASSIVE")
	if c.hook != nil {
		c.hook("PASSIVE", logPages, copied, err)
	}
	if err != nil || logPages <= c.limit || copied == logPages {
		return
	}
	logPages, copied, err = c.run("RESTART")
	if c.hook != nil {
		c.hook("RESTART", logPages, copied, err)
	}
}

func (c *checkpointer) run(mode string) (logPages, copied int, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), checkpointWait+time.Second)
	defer cancel()
	var busy int
	err = c.db.QueryRowContext(ctx, "PRAGMA wal_checkpoint("+mode+")").Scan(&busy, &logPages, &copied)
	return logPages, copied, err
}
