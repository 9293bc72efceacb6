package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/troupehq/troupe"
	"github.com/troupehq/troupe/internal/codec"
)

func scanBuild(row scanner) (*troupe.Build, error) {
	var data, internal []byte
	if err := row.Scan(&data, &internal); err != nil {
		return nil, err
	}
	return codec.DecodeBuild(data, internal)
}

// CreateBuild implements troupe.ActorStore. It sets b.BuildNumber to
// ActorVersion.N, N one more than the highest N of that actor version; a
// lock on the actor version makes concurrent creates (from any process)
// take turns. An empty ID is filled in, an empty ActorVersion becomes "0.0"
// and a zero StartedAt becomes now.
func (s *Store) CreateBuild(ctx context.Context, b *troupe.Build) error {
	if b.ID == "" {
		b.ID = troupe.NewID()
	}
	if b.ActorVersion == "" {
		b.ActorVersion = "0.0"
	}
	if b.StartedAt.IsZero() {
		b.StartedAt = s.now()
	}
	enq := false
	err := s.write(ctx, func(c conn, tx *sql.Tx) error {
		if err := s.d.Lock(ctx, tx, "build-number\x1f"+b.ActID+"\x1f"+b.ActorVersion); err != nil {
			return fmt.Errorf("lock build numbers: %w", err)
		}
		var n int
		if err := c.QueryRow(ctx,
			`SELECT COALESCE(MAX(seq), 0) + 1 FROM builds WHERE act_id = ? AND version = ?`,
			b.ActID, b.ActorVersion).Scan(&n); err != nil {
			return fmt.Errorf("next build number: %w", err)
		}
		b.BuildNumber = fmt.Sprintf("%s.%d", b.ActorVersion, n)
		data, internal, err := codec.EncodeBuild(b)
		if err != nil {
			return err
		}
		_, err = c.Exec(ctx, `INSERT INTO builds
			(id, act_id, version, seq, build_number, status, started_at, data, internal)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			b.ID, b.ActID, b.ActorVersion, n, b.BuildNumber, string(b.Status), s.t(b.StartedAt), data, internal)
		if err != nil {
			if s.unique(err, "builds_pkey") {
				return troupe.Errorf(troupe.ErrConflict, "A build with id %s already exists.", b.ID)
			}
			return fmt.Errorf("insert build: %w", err)
		}
		if enq, err = s.enqueueEvent(ctx, c, tx, troupe.NewBuildEvent(troupe.EventBuildCreated, b, s.now())); err != nil {
			return err
		}
		return s.d.Notify(ctx, tx, b.ID)
	})
	return s.commit(err, s.changed(enq, b.ID)...)
}

// GetBuild implements troupe.ActorStore.
func (s *Store) GetBuild(ctx context.Context, id string) (*troupe.Build, error) {
	b, err := scanBuild(s.reader().QueryRow(ctx, `SELECT data, internal FROM builds WHERE id = ?`, id))
	return b, s.notFound(err, "Build")
}

// GetBuildByNumber implements troupe.ActorStore.
func (s *Store) GetBuildByNumber(ctx context.Context, actorID, number string) (*troupe.Build, error) {
	b, err := scanBuild(s.reader().QueryRow(ctx,
		`SELECT data, internal FROM builds WHERE act_id = ? AND build_number = ?`, actorID, number))
	return b, s.notFound(err, "Build")
}

// ListBuilds implements troupe.ActorStore, ordered by startedAt (then id).
func (s *Store) ListBuilds(ctx context.Context, actorID string, o troupe.ListOptions) ([]*troupe.Build, int, error) {
	offset, limit := page(o)
	list := []*troupe.Build{}
	var total int
	err := s.read(ctx, func(c conn) error {
		if err := c.QueryRow(ctx, `SELECT COUNT(*) FROM builds WHERE act_id = ?`, actorID).Scan(&total); err != nil {
			return fmt.Errorf("count builds: %w", err)
		}
		dir := order(o.Desc)
		rows, err := c.Query(ctx, `SELECT data, internal FROM builds WHERE act_id = ?
			ORDER BY started_at `+dir+`, id `+dir+` LIMIT ? OFFSET ?`, actorID, limit, offset)
		if err != nil {
			return fmt.Errorf("list builds: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			b, err := scanBuild(rows)
			if err != nil {
				return err
			}
			list = append(list, b)
		}
		return rows.Err()
	})
	if err != nil {
		if s.badText(err) { // an actor id no actor can have
			return []*troupe.Build{}, 0, nil
		}
		return nil, 0, err
	}
	return list, total, nil
}

// UpdateBuild implements troupe.ActorStore. The id, actor, version and build
// number cannot change; the build's row is locked while fn runs. Watchers of
// the build are signalled after commit, in every process.
func (s *Store) UpdateBuild(ctx context.Context, id string, fn func(b *troupe.Build) error) (*troupe.Build, error) {
	var out *troupe.Build
	enq := false
	err := s.write(ctx, func(c conn, tx *sql.Tx) error {
		var actID, version, number string
		var data, internal []byte
		err := c.QueryRow(ctx,
			`SELECT act_id, version, build_number, data, internal FROM builds WHERE id = ?`+s.forUpdate(""), id).
			Scan(&actID, &version, &number, &data, &internal)
		if err != nil {
			return s.notFound(err, "Build")
		}
		b, err := codec.DecodeBuild(data, internal)
		if err != nil {
			return err
		}
		oldStatus := b.Status
		if err := fn(b); err != nil {
			return err
		}
		b.ID, b.ActID, b.ActorVersion, b.BuildNumber = id, actID, version, number
		data, internal, err = codec.EncodeBuild(b)
		if err != nil {
			return err
		}
		if _, err := c.Exec(ctx,
			`UPDATE builds SET status = ?, started_at = ?, data = ?, internal = ? WHERE id = ?`,
			string(b.Status), s.t(b.StartedAt), data, internal, id); err != nil {
			return fmt.Errorf("update build: %w", err)
		}
		if ev := troupe.BuildEvent(oldStatus, b); ev != "" {
			if enq, err = s.enqueueEvent(ctx, c, tx, troupe.NewBuildEvent(ev, b, s.now())); err != nil {
				return err
			}
		}
		out = b
		return s.d.Notify(ctx, tx, id)
	})
	if err := s.commit(err, s.changed(enq, id)...); err != nil {
		return nil, err
	}
	return out, nil
}

// DeleteBuild implements troupe.ActorStore. The build's and its actor's
// rows are locked, so no tag can come to point at the build meanwhile.
func (s *Store) DeleteBuild(ctx context.Context, id string) error {
	err := s.write(ctx, func(c conn, tx *sql.Tx) error {
		b, err := scanBuild(c.QueryRow(ctx, `SELECT data, internal FROM builds WHERE id = ?`+s.forUpdate(""), id))
		if err != nil {
			return s.notFound(err, "Build")
		}
		if !b.Status.Terminal() {
			return troupe.Errorf(troupe.ErrDeletingUnfinishedBuild, "The build has not finished yet (its status is %s): abort it first.", b.Status)
		}
		a, err := s.scanActor(c.QueryRow(ctx, `SELECT `+actorColumns+` FROM actors a WHERE a.id = ?`+s.forUpdate("a"), b.ActID))
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("read build's actor: %w", err)
		}
		if a != nil {
			for tag, tb := range a.TaggedBuilds {
				if tb != nil && tb.BuildID == id {
					return troupe.Errorf(troupe.ErrDeletingDefaultBuild, "The build is tagged %q: tag another build first.", tag)
				}
			}
		}
		if _, err := c.Exec(ctx, `DELETE FROM builds WHERE id = ?`, id); err != nil {
			return fmt.Errorf("delete build: %w", err)
		}
		if _, err := c.Exec(ctx, `DELETE FROM logs WHERE job_id = ?`, id); err != nil {
			return fmt.Errorf("delete build log: %w", err)
		}
		return s.d.Notify(ctx, tx, id)
	})
	return s.commit(err, id)
}
