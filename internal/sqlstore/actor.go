package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/troupehq/troupe"
	"github.com/troupehq/troupe/internal/codec"
)

// actorStats selects the figures an actor's stats are made of.
const actorStats = `(SELECT COALESCE(SUM(n), 0) FROM run_counts WHERE act_id = a.id),
	(SELECT COUNT(*) FROM builds WHERE act_id = a.id),
	(SELECT MAX(started_at) FROM runs WHERE act_id = a.id)`

// actorColumns selects an actor's id, version and JSON and the figures its
// stats are made of; scanActor reads them.
const actorColumns = `a.id, a.version, a.data, ` + actorStats

// scanActor decodes a row of actorColumns. Stats are computed from the runs
// and builds the store holds, not taken from what was written.
func (s *Store) scanActor(row scanner) (*troupe.Actor, error) {
	var id string
	var version int64
	var data []byte
	var st actorStatsRow
	if err := row.Scan(&id, &version, &data, &st.runs, &st.builds, &st.last); err != nil {
		return nil, err
	}
	a, err := s.actors.decode(id, version, data)
	if err != nil {
		return nil, err
	}
	st.set(a)
	return a, nil
}

type actorStatsRow struct {
	runs, builds int
	last         NullTime
}

func (st actorStatsRow) set(a *troupe.Actor) {
	a.Stats.TotalRuns = st.runs
	a.Stats.TotalBuilds = st.builds
	a.Stats.LastRunStartedAt = st.last.Ptr()
}

// getActor reads the one actor the condition on "a" selects. It first reads
// only the row's id, version and stats, which come before the JSON (in
// SQLite, on the row's own page; in PostgreSQL, out of the JSON's TOAST),
// so the JSON is neither read nor copied; only when the cache does not hold
// that version does it read and decode the JSON.
func (s *Store) getActor(ctx context.Context, where string, args ...any) (*troupe.Actor, error) {
	var id string
	var version int64
	var st actorStatsRow
	err := s.reader().QueryRow(ctx, `SELECT a.id, a.version, `+actorStats+` FROM actors a WHERE `+where, args...).
		Scan(&id, &version, &st.runs, &st.builds, &st.last)
	if err != nil {
		return nil, s.notFound(err, "Actor")
	}
	if a := s.actors.get(id, version); a != nil {
		st.set(a)
		return a, nil
	}
	a, err := s.scanActor(s.reader().QueryRow(ctx, `SELECT `+actorColumns+` FROM actors a WHERE a.id = ?`, id))
	return a, s.notFound(err, "Actor")
}

func normActor(a *troupe.Actor) {
	a.CreatedAt = norm(a.CreatedAt)
	a.ModifiedAt = norm(a.ModifiedAt)
	a.Stats.LastRunStartedAt = codec.NormPtr(a.Stats.LastRunStartedAt)
	for tag, tb := range a.TaggedBuilds {
		if tb != nil {
			c := *tb
			c.FinishedAt = codec.NormPtr(c.FinishedAt)
			a.TaggedBuilds[tag] = &c
		}
	}
}

func errActorName(name string) error {
	return troupe.Errorf(troupe.ErrNameNotUnique, "An actor named %q already exists.", name)
}

func nameTaken(ctx context.Context, c conn, username, name, exceptID string) error {
	var id string
	err := c.QueryRow(ctx, `SELECT id FROM actors WHERE username = ? AND name = ? AND id <> ?`,
		username, name, exceptID).Scan(&id)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil
	case err != nil:
		return fmt.Errorf("check actor name: %w", err)
	}
	return errActorName(name)
}

// actorWriteErr turns the unique violations of an actor write into the
// errors the store documents: two writers that checked the name at the same
// time meet at the unique constraint.
func (s *Store) actorWriteErr(err error, a *troupe.Actor) error {
	switch {
	case s.unique(err, "actors_username_name"):
		return errActorName(a.Name)
	case s.unique(err, "actors_pkey"):
		return troupe.Errorf(troupe.ErrConflict, "An actor with id %s already exists.", a.ID)
	}
	return err
}

// CreateActor implements troupe.ActorStore. An empty ID is filled in, a zero
// CreatedAt becomes now and a zero ModifiedAt becomes CreatedAt.
func (s *Store) CreateActor(ctx context.Context, a *troupe.Actor) error {
	if a.ID == "" {
		a.ID = troupe.NewID()
	}
	if a.CreatedAt.IsZero() {
		a.CreatedAt = s.now()
	}
	if a.ModifiedAt.IsZero() {
		a.ModifiedAt = a.CreatedAt
	}
	normActor(a)
	data, err := json.Marshal(a)
	if err != nil {
		return fmt.Errorf("encode actor: %w", err)
	}
	err = s.write(ctx, func(c conn, _ *sql.Tx) error {
		if err := nameTaken(ctx, c, a.Username, a.Name, a.ID); err != nil {
			return err
		}
		_, err := c.Exec(ctx,
			`INSERT INTO actors (id, username, name, created_at, data, version) VALUES (?, ?, ?, ?, ?, ?)`,
			a.ID, a.Username, a.Name, s.t(a.CreatedAt), data, newActorVersion())
		if err != nil {
			return s.actorWriteErr(fmt.Errorf("insert actor: %w", err), a)
		}
		return nil
	})
	s.wroteBig(ctx, len(data))
	return err
}

// bigRowBytes is the size past which a written row (an actor with its
// source files) is let go of by a Driver that implements WriteMemory.
const bigRowBytes = 1 << 20

// WriteMemory is implemented by a Driver whose write connection keeps the
// pages it read and wrote in memory (SQLite's page cache).
type WriteMemory interface {
	// ReleaseWriteMemory frees what the write connection keeps that it
	// does not need, at the cost of reading those pages again when they
	// are used.
	ReleaseWriteMemory(ctx context.Context)
}

// wroteBig lets the write connection's memory go after a write of n bytes
// of row data when n is more than bigRowBytes: an actor's row holds its
// source files, often megabytes, which would stay in the write
// connection's cache though only the readers read them again, and then
// through the actor cache.
func (s *Store) wroteBig(ctx context.Context, n int) {
	if wm, ok := s.d.(WriteMemory); ok && n > bigRowBytes {
		wm.ReleaseWriteMemory(ctx)
	}
}

// GetActor implements troupe.ActorStore.
func (s *Store) GetActor(ctx context.Context, id string) (*troupe.Actor, error) {
	return s.getActor(ctx, `a.id = ?`, id)
}

// GetActorByName implements troupe.ActorStore.
func (s *Store) GetActorByName(ctx context.Context, username, name string) (*troupe.Actor, error) {
	return s.getActor(ctx, `a.username = ? AND a.name = ?`, username, name)
}

// ListActors implements troupe.ActorStore, ordered by createdAt (then id).
func (s *Store) ListActors(ctx context.Context, o troupe.ListOptions) ([]*troupe.Actor, int, error) {
	offset, limit := page(o)
	list := []*troupe.Actor{}
	var total int
	err := s.read(ctx, func(c conn) error {
		if err := c.QueryRow(ctx, `SELECT COUNT(*) FROM actors`).Scan(&total); err != nil {
			return fmt.Errorf("count actors: %w", err)
		}
		dir := order(o.Desc)
		rows, err := c.Query(ctx, `SELECT `+actorColumns+` FROM actors a
			ORDER BY a.created_at `+dir+`, a.id `+dir+` LIMIT ? OFFSET ?`, limit, offset)
		if err != nil {
			return fmt.Errorf("list actors: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			a, err := s.scanActor(rows)
			if err != nil {
				return err
			}
			list = append(list, a)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, 0, err
	}
	return list, total, nil
}

// UpdateActor implements troupe.ActorStore. The id cannot change; ModifiedAt
// is set to now. The actor's row is locked while fn runs.
func (s *Store) UpdateActor(ctx context.Context, id string, fn func(a *troupe.Actor) error) (*troupe.Actor, error) {
	var out *troupe.Actor
	size := 0
	err := s.write(ctx, func(c conn, _ *sql.Tx) error {
		a, err := s.scanActor(c.QueryRow(ctx, `SELECT `+actorColumns+` FROM actors a WHERE a.id = ?`+s.forUpdate("a"), id))
		if err != nil {
			return s.notFound(err, "Actor")
		}
		if err := fn(a); err != nil {
			return err
		}
		a.ID = id
		a.ModifiedAt = s.now()
		normActor(a)
		if err := nameTaken(ctx, c, a.Username, a.Name, id); err != nil {
			return err
		}
		data, err := json.Marshal(a)
		if err != nil {
			return fmt.Errorf("encode actor: %w", err)
		}
		if _, err := c.Exec(ctx, `UPDATE actors SET username = ?, name = ?, data = ?, version = ? WHERE id = ?`,
			a.Username, a.Name, data, newActorVersion(), id); err != nil {
			return s.actorWriteErr(fmt.Errorf("update actor: %w", err), a)
		}
		out = a
		size = len(data)
		return nil
	})
	s.wroteBig(ctx, size)
	return out, err
}

// DeleteActor implements troupe.ActorStore: it deletes the actor, its builds
// and their logs. Runs of the actor are kept.
func (s *Store) DeleteActor(ctx context.Context, id string) error {
	return s.write(ctx, func(c conn, _ *sql.Tx) error {
		res, err := c.Exec(ctx, `DELETE FROM actors WHERE id = ?`, id)
		if err != nil {
			return s.notFound(fmt.Errorf("delete actor: %w", err), "Actor")
		}
		if affected(res) == 0 {
			return troupe.Errorf(troupe.ErrRecordNotFound, "Actor was not found")
		}
		if _, err := c.Exec(ctx,
			`DELETE FROM logs WHERE job_id IN (SELECT id FROM builds WHERE act_id = ?)`, id); err != nil {
			return fmt.Errorf("delete build logs: %w", err)
		}
		if _, err := c.Exec(ctx, `DELETE FROM builds WHERE act_id = ?`, id); err != nil {
			return fmt.Errorf("delete builds: %w", err)
		}
		return nil
	})
}
