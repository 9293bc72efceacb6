package metrics

import (
	"context"
	"time"

	"github.com/troupehq/troupe"
)

func (s *store) CreateTask(ctx context.Context, tk *troupe.Task) error {
	t := time.Now()
	err := s.Store.CreateTask(ctx, tk)
	s.done("CreateTask", t, err)
	return err
}

func (s *store) GetTask(ctx context.Context, id string) (*troupe.Task, error) {
	t := time.Now()
	v, err := s.Store.GetTask(ctx, id)
	s.done("GetTask", t, err)
	return v, err
}

func (s *store) GetTaskByName(ctx context.Context, username, name string) (*troupe.Task, error) {
	t := time.Now()
	v, err := s.Store.GetTaskByName(ctx, username, name)
	s.done("GetTaskByName", t, err)
	return v, err
}

func (s *store) ListTasks(ctx context.Context, o troupe.ListOptions) ([]*troupe.Task, int, error) {
	t := time.Now()
	v, n, err := s.Store.ListTasks(ctx, o)
	s.done("ListTasks", t, err)
	return v, n, err
}

func (s *store) UpdateTask(ctx context.Context, id string, fn func(t *troupe.Task) error) (*troupe.Task, error) {
	var fnErr error
	t := time.Now()
	v, err := s.Store.UpdateTask(ctx, id, func(tk *troupe.Task) error {
		fnErr = fn(tk)
		return fnErr
	})
	s.doneFn("UpdateTask", time.Since(t), err, fnErr)
	return v, err
}

func (s *store) DeleteTask(ctx context.Context, id string) error {
	t := time.Now()
	err := s.Store.DeleteTask(ctx, id)
	s.done("DeleteTask", t, err)
	return err
}

func (s *store) CreateSchedule(ctx context.Context, sc *troupe.Schedule) error {
	t := time.Now()
	err := s.Store.CreateSchedule(ctx, sc)
	s.done("CreateSchedule", t, err)
	return err
}

func (s *store) GetSchedule(ctx context.Context, id string) (*troupe.Schedule, error) {
	t := time.Now()
	v, err := s.Store.GetSchedule(ctx, id)
	s.done("GetSchedule", t, err)
	return v, err
}

func (s *store) GetScheduleByName(ctx context.Context, username, name string) (*troupe.Schedule, error) {
	t := time.Now()
	v, err := s.Store.GetScheduleByName(ctx, username, name)
	s.done("GetScheduleByName", t, err)
	return v, err
}

func (s *store) ListSchedules(ctx context.Context, o troupe.ListOptions) ([]*troupe.Schedule, int, error) {
	t := time.Now()
	v, n, err := s.Store.ListSchedules(ctx, o)
	s.done("ListSchedules", t, err)
	return v, n, err
}

func (s *store) DueSchedules(ctx context.Context, limit int) ([]*troupe.Schedule, error) {
	t := time.Now()
	v, err := s.Store.DueSchedules(ctx, limit)
	s.done("DueSchedules", t, err)
	return v, err
}

func (s *store) UpdateSchedule(ctx context.Context, id string, fn func(sc *troupe.Schedule) error) (*troupe.Schedule, error) {
	var fnErr error
	t := time.Now()
	v, err := s.Store.UpdateSchedule(ctx, id, func(sc *troupe.Schedule) error {
		fnErr = fn(sc)
		return fnErr
	})
	s.doneFn("UpdateSchedule", time.Since(t), err, fnErr)
	return v, err
}

func (s *store) DeleteSchedule(ctx context.Context, id string) error {
	t := time.Now()
	err := s.Store.DeleteSchedule(ctx, id)
	s.done("DeleteSchedule", t, err)
	return err
}

// FireSchedule counts the runs a firing created once it is written.
func (s *store) FireSchedule(ctx context.Context, f *troupe.ScheduleFiring) error {
	t := time.Now()
	err := s.Store.FireSchedule(ctx, f)
	s.done("FireSchedule", t, err)
	if err == nil {
		s.m.runsCreated.Add(float64(len(f.Runs)))
	}
	return err
}

func (s *store) ScheduleLog(ctx context.Context, id string) ([]troupe.ScheduleLogEntry, error) {
	t := time.Now()
	v, err := s.Store.ScheduleLog(ctx, id)
	s.done("ScheduleLog", t, err)
	return v, err
}
