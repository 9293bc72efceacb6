// Package codec is how troupe's stores keep runs and builds: the JSON the
// API shows in one column and the fields it never shows in another, every
// time in UTC at millisecond precision. The SQLite and PostgreSQL stores
// share it so that both read back exactly what the other would.
package codec

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/troupehq/troupe"
)

// Norm puts t in UTC at millisecond precision, the precision stores keep.
func Norm(t time.Time) time.Time { return t.UTC().Truncate(time.Millisecond) }

// NormPtr is Norm for an optional time; nil stays nil.
func NormPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	n := Norm(*t)
	return &n
}

// normRun puts every time of r in UTC at millisecond precision, the way it
// reads back. Slices and pointers are replaced, not written through.
func normRun(r *troupe.Run) {
	r.StartedAt = Norm(r.StartedAt)
	r.FinishedAt = NormPtr(r.FinishedAt)
	r.Meta.ScheduledAt = NormPtr(r.Meta.ScheduledAt)
	if r.Metamorphs != nil {
		ms := make([]troupe.Metamorph, len(r.Metamorphs))
		for i, m := range r.Metamorphs {
			m.CreatedAt = Norm(m.CreatedAt)
			ms[i] = m
		}
		r.Metamorphs = ms
	}
	c := &r.Control
	c.TimeoutAt = NormPtr(c.TimeoutAt)
	c.RunningSince = NormPtr(c.RunningSince)
	c.LeaseUntil = NormPtr(c.LeaseUntil)
	if c.Abort != nil {
		a := *c.Abort
		a.RequestedAt = Norm(a.RequestedAt)
		c.Abort = &a
	}
}

// EncodeRun normalises r's times and returns its two columns.
func EncodeRun(r *troupe.Run) (data, control []byte, err error) {
	normRun(r)
	if data, err = json.Marshal(r); err != nil {
		return nil, nil, fmt.Errorf("encode run: %w", err)
	}
	if control, err = json.Marshal(r.Control); err != nil {
		return nil, nil, fmt.Errorf("encode run control: %w", err)
	}
	return data, control, nil
}

// DecodeRun returns the run kept as data and control at version.
func DecodeRun(data, control []byte, version int64) (*troupe.Run, error) {
	r := new(troupe.Run)
	if err := json.Unmarshal(data, r); err != nil {
		return nil, fmt.Errorf("decode run: %w", err)
	}
	if err := json.Unmarshal(control, &r.Control); err != nil {
		return nil, fmt.Errorf("decode run control: %w", err)
	}
	r.Version = version
	return r, nil
}

// FillNewRun gives a run about to be created what it lacks: ids for itself and
// its default storages, status READY, startedAt now; its version is 1.
func FillNewRun(r *troupe.Run, now time.Time) {
	for _, id := range []*string{&r.ID, &r.DefaultDatasetID, &r.DefaultKeyValueStoreID, &r.DefaultRequestQueueID} {
		if *id == "" {
			*id = troupe.NewID()
		}
	}
	if r.Status == "" {
		r.Status = troupe.StatusReady
	}
	if r.StartedAt.IsZero() {
		r.StartedAt = now
	}
	r.Version = 1
}
