package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"

	"fmt"

	"github.com/troupehq/troupe"
)

// taskColumns selects a task's JSON and its run count.
const taskColumns = `t.data, (SELECT COUNT(*) FROM runs WHERE actor_task_id = t.id)`

func scanTask(row scanner) (*troupe.Task, error) {
	var data []byte
	var runs int
	if err := row.Scan(&data, &runs); err != nil {
		return nil, err
	}
	t := new(troupe.Task)
	if err := json.Unmarshal(data, t); err != nil {
		return nil, fmt.Errorf("decode task: %w", err)
	}
	t.Stats.TotalRuns = runs
	return t, nil
}

func errTaskName(name string) error {
	return troupe.Errorf(troupe.ErrTaskNameNotUnique, "A task named %q already exists.", name)
}

// taskNameTaken checks that no other task of username has name.
func taskNameTaken(ctx context.Context, c conn, username, name, exceptID string) error {
	ok, err := c.exists(ctx, `SELECT 1 FROM tasks WHERE username = ? AND name = ? AND id <> ?`, username, name, exceptID)
	if err != nil {
		return fmt.Errorf("check task name: %w", err)
	}
	if ok {
		return errTaskName(name)
	}
	return nil
}

func (s *Store) taskWriteErr(err error, t *troupe.Task) error {
	switch {
	case s.unique(err, "tasks_username_name"):
		return errTaskName(t.Name)
	case s.unique(err, "tasks_pkey"):
		return troupe.Errorf(troupe.ErrConflict, "A task with id %s already exists.", t.ID)
	}
	return err
}

func encodeTask(t *troupe.Task) ([]byte, error) {
	t.CreatedAt, t.ModifiedAt = norm(t.CreatedAt), norm(t.ModifiedAt)
	c := *t
	c.Stats = troupe.TaskStats{}
	data, err := json.Marshal(&c)
	if err != nil {
		return nil, fmt.Errorf("encode task: %w", err)
	}
	return data, nil
}

// CreateTask implements troupe.TaskStore. An empty ID is filled in, a zero
// CreatedAt becomes now and a zero ModifiedAt becomes CreatedAt.
func (s *Store) CreateTask(ctx context.Context, t *troupe.Task) error {
	if t.ID == "" {
		t.ID = troupe.NewID()
	}
	if t.CreatedAt.IsZero() {
		t.CreatedAt = s.now()
	}
	if t.ModifiedAt.IsZero() {
		t.ModifiedAt = t.CreatedAt
	}
	data, err := encodeTask(t)
	if err != nil {
		return err
	}
	return s.write(ctx, func(c conn, _ *sql.Tx) error {
		if err := taskNameTaken(ctx, c, t.Username, t.Name, t.ID); err != nil {
			return err
		}
		_, err := c.Exec(ctx, `INSERT INTO tasks (id, username, name, act_id, created_at, data) VALUES (?, ?, ?, ?, ?, ?)`,
			t.ID, t.Username, t.Name, t.ActID, s.t(t.CreatedAt), data)
		if err != nil {
			return s.taskWriteErr(fmt.Errorf("insert task: %w", err), t)
		}
		return nil
	})
}

// GetTask implements troupe.TaskStore.
func (s *Store) GetTask(ctx context.Context, id string) (*troupe.Task, error) {
	t, err := scanTask(s.reader().QueryRow(ctx, `SELECT `+taskColumns+` FROM tasks t WHERE t.id = ?`, id))
	return t, s.notFound(err, "Actor task")
}

// GetTaskByName implements troupe.TaskStore.
func (s *Store) GetTaskByName(ctx context.Context, username, name string) (*troupe.Task, error) {
	t, err := scanTask(s.reader().QueryRow(ctx,
		`SELECT `+taskColumns+` FROM tasks t WHERE t.username = ? AND t.name = ?`, username, name))
	return t, s.notFound(err, "Actor task")
}

// ListTasks implements troupe.TaskStore, ordered by createdAt (then id).
func (s *Store) ListTasks(ctx context.Context, o troupe.ListOptions) ([]*troupe.Task, int, error) {
	offset, limit := page(o)
	list := []*troupe.Task{}
	var total int
	err := s.read(ctx, func(c conn) error {
		if err := c.QueryRow(ctx, `SELECT COUNT(*) FROM tasks`).Scan(&total); err != nil {
			return fmt.Errorf("count tasks: %w", err)
		}
		dir := order(o.Desc)
		rows, err := c.Query(ctx, `SELECT `+taskColumns+` FROM tasks t
			ORDER BY t.created_at `+dir+`, t.id `+dir+` LIMIT ? OFFSET ?`, limit, offset)
		if err != nil {
			return fmt.Errorf("list tasks: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			t, err := scanTask(rows)
			if err != nil {
				return err
			}
			list = append(list, t)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, 0, err
	}
	return list, total, nil
}

// UpdateTask implements troupe.TaskStore. The id, actor and creation time
// cannot change; ModifiedAt is set to now. The row is locked while fn runs.
func (s *Store) UpdateTask(ctx context.Context, id string, fn func(t *troupe.Task) error) (*troupe.Task, error) {
	var out *troupe.Task
	err := s.write(ctx, func(c conn, _ *sql.Tx) error {
		t, err := scanTask(c.QueryRow(ctx, `SELECT `+taskColumns+` FROM tasks t WHERE t.id = ?`+s.forUpdate("t"), id))
		if err != nil {
			return s.notFound(err, "Actor task")
		}
		actID, created := t.ActID, t.CreatedAt
		if err := fn(t); err != nil {
			return err
		}
		t.ID, t.ActID, t.CreatedAt, t.ModifiedAt = id, actID, created, s.now()
		if err := taskNameTaken(ctx, c, t.Username, t.Name, id); err != nil {
			return err
		}
		data, err := encodeTask(t)
		if err != nil {
			return err
		}
		if _, err := c.Exec(ctx, `UPDATE tasks SET username = ?, name = ?, data = ? WHERE id = ?`,
			t.Username, t.Name, data, id); err != nil {
			return s.taskWriteErr(fmt.Errorf("update task: %w", err), t)
		}
		out = t
		return nil
	})
	return out, err
}

// DeleteTask implements troupe.TaskStore. The task's runs are kept.
func (s *Store) DeleteTask(ctx context.Context, id string) error {
	return s.write(ctx, func(c conn, _ *sql.Tx) error {
		res, err := c.Exec(ctx, `DELETE FROM tasks WHERE id = ?`, id)
		if err != nil {
			if err := s.notFound(err, "Actor task"); troupe.IsNotFound(err) {
				return err
			}
			return fmt.Errorf("delete task: %w", err)
		}
		if affected(res) == 0 {
			return troupe.Errorf(troupe.ErrRecordNotFound, "Actor task was not found")
		}
		return nil
	})
}
