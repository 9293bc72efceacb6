package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/troupehq/troupe"
)

// actorColumns selects an actor's JSON and the figures its stats are made
// of; scanActor reads them.
const actorColumns = `a.data,
	(SELECT COALESCE(SUM(n), 0) FROM run_counts WHERE act_id = a.id),
	(SELECT COUNT(*) FROM builds WHERE act_id = a.id),
	(SELECT MAX(started_at) FROM runs WHERE act_id = a.id)`

type scanner interface{ Scan(dest ...any) error }

// scanActor decodes a row of actorColumns. Stats are computed from the runs
// and builds the store holds, not taken from what was written.
func scanActor(row scanner) (*troupe.Actor, error) {
	var data []byte
	var runs, builds int64
	var last *time.Time
	if err := row.Scan(&data, &runs, &builds, &last); err != nil {
		return nil, err
	}
	a := new(troupe.Actor)
	if err := json.Unmarshal(data, a); err != nil {
		return nil, fmt.Errorf("decode actor: %w", err)
	}
	a.Stats.TotalRuns = int(runs)
	a.Stats.TotalBuilds = int(builds)
	a.Stats.LastRunStartedAt = utcPtr(last)
	return a, nil
}

func normActor(a *troupe.Actor) {
	a.CreatedAt = norm(a.CreatedAt)
	a.ModifiedAt = norm(a.ModifiedAt)
	a.Stats.LastRunStartedAt = normPtr(a.Stats.LastRunStartedAt)
	for tag, tb := range a.TaggedBuilds {
		if tb != nil {
			c := *tb
			c.FinishedAt = normPtr(c.FinishedAt)
			a.TaggedBuilds[tag] = &c
		}
	}
}

func errActorName(name string) error {
	return troupe.Errorf(troupe.ErrNameNotUnique, "An actor named %q already exists.", name)
}

func nameTaken(ctx context.Context, tx pgx.Tx, username, name, exceptID string) error {
	var id string
	err := tx.QueryRow(ctx, `SELECT id FROM actors WHERE username = $1 AND name = $2 AND id <> $3`,
		username, name, exceptID).Scan(&id)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return nil
	case err != nil:
		return fmt.Errorf("check actor name: %w", err)
	}
	return errActorName(name)
}

// actorWriteErr turns the unique violations of an actor write into the
// errors the store documents: two writers that checked the name at the same
// time meet at the unique constraint.
func actorWriteErr(err error, a *troupe.Actor) error {
	if sqlState(err) == codeUniqueViolation {
		switch constraintOf(err) {
		case "actors_username_name":
			return errActorName(a.Name)
		case "actors_pkey":
			return troupe.Errorf(troupe.ErrConflict, "An actor with id %s already exists.", a.ID)
		}
	}
	return err
}

// CreateActor implements troupe.ActorStore. An empty ID is filled in, a zero
// CreatedAt becomes now and a zero ModifiedAt becomes CreatedAt.
func (db *DB) CreateActor(ctx context.Context, a *troupe.Actor) error {
	if a.ID == "" {
		a.ID = troupe.NewID()
	}
	if a.CreatedAt.IsZero() {
		a.CreatedAt = db.now()
	}
	if a.ModifiedAt.IsZero() {
		a.ModifiedAt = a.CreatedAt
	}
	normActor(a)
	data, err := json.Marshal(a)
	if err != nil {
		return fmt.Errorf("encode actor: %w", err)
	}
	return db.write(ctx, func(tx pgx.Tx) error {
		if err := nameTaken(ctx, tx, a.Username, a.Name, a.ID); err != nil {
			return err
		}
		_, err := tx.Exec(ctx,
			`INSERT INTO actors (id, username, name, created_at, data) VALUES ($1, $2, $3, $4, $5)`,
			a.ID, a.Username, a.Name, a.CreatedAt, data)
		if err != nil {
			return actorWriteErr(fmt.Errorf("insert actor: %w", err), a)
		}
		return nil
	})
}

// GetActor implements troupe.ActorStore.
func (db *DB) GetActor(ctx context.Context, id string) (*troupe.Actor, error) {
	a, err := scanActor(db.pool.QueryRow(ctx, `SELECT `+actorColumns+` FROM actors a WHERE a.id = $1`, id))
	return a, notFound(err, "Actor")
}

// GetActorByName implements troupe.ActorStore.
func (db *DB) GetActorByName(ctx context.Context, username, name string) (*troupe.Actor, error) {
	a, err := scanActor(db.pool.QueryRow(ctx,
		`SELECT `+actorColumns+` FROM actors a WHERE a.username = $1 AND a.name = $2`, username, name))
	return a, notFound(err, "Actor")
}

// ListActors implements troupe.ActorStore, ordered by createdAt (then id).
func (db *DB) ListActors(ctx context.Context, o troupe.ListOptions) ([]*troupe.Actor, int, error) {
	offset, limit := page(o)
	list := []*troupe.Actor{}
	var total int
	err := db.read(ctx, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM actors`).Scan(&total); err != nil {
			return fmt.Errorf("count actors: %w", err)
		}
		dir := order(o.Desc)
		rows, err := tx.Query(ctx, `SELECT `+actorColumns+` FROM actors a
			ORDER BY a.created_at `+dir+`, a.id `+dir+` LIMIT $1 OFFSET $2`, limit, offset)
		if err != nil {
			return fmt.Errorf("list actors: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			a, err := scanActor(rows)
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
func (db *DB) UpdateActor(ctx context.Context, id string, fn func(a *troupe.Actor) error) (*troupe.Actor, error) {
	var out *troupe.Actor
	err := db.write(ctx, func(tx pgx.Tx) error {
		a, err := scanActor(tx.QueryRow(ctx, `SELECT `+actorColumns+` FROM actors a WHERE a.id = $1 FOR UPDATE OF a`, id))
		if err != nil {
			return notFound(err, "Actor")
		}
		if err := fn(a); err != nil {
			return err
		}
		a.ID = id
		a.ModifiedAt = db.now()
		normActor(a)
		if err := nameTaken(ctx, tx, a.Username, a.Name, id); err != nil {
			return err
		}
		data, err := json.Marshal(a)
		if err != nil {
			return fmt.Errorf("encode actor: %w", err)
		}
		if _, err := tx.Exec(ctx, `UPDATE actors SET username = $1, name = $2, data = $3 WHERE id = $4`,
			a.Username, a.Name, data, id); err != nil {
			return actorWriteErr(fmt.Errorf("update actor: %w", err), a)
		}
		out = a
		return nil
	})
	return out, err
}

// DeleteActor implements troupe.ActorStore: it deletes the actor, its builds
// and their logs. Runs of the actor are kept.
func (db *DB) DeleteActor(ctx context.Context, id string) error {
	return db.write(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM actors WHERE id = $1`, id)
		if err != nil {
			return notFound(fmt.Errorf("delete actor: %w", err), "Actor")
		}
		if tag.RowsAffected() == 0 {
			return troupe.Errorf(troupe.ErrRecordNotFound, "Actor was not found")
		}
		if _, err := tx.Exec(ctx,
			`DELETE FROM logs WHERE job_id IN (SELECT id FROM builds WHERE act_id = $1)`, id); err != nil {
			return fmt.Errorf("delete build logs: %w", err)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM builds WHERE act_id = $1`, id); err != nil {
			return fmt.Errorf("delete builds: %w", err)
		}
		return nil
	})
}
