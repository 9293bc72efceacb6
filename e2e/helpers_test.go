package e2e_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/troupehq/troupe/client"
)

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// start starts a run of an example actor with a JSON input ("" for none).
func (s *server) start(t *testing.T, actor, input string, opts *client.StartOptions) *client.Run {
	t.Helper()
	var body []byte
	if input != "" {
		body = []byte(input)
	}
	run, err := s.c.Actor("~"+actor).Start(testCtx(t), body, opts)
	if err != nil {
		t.Fatalf("start %s: %v", actor, err)
	}
	return run
}

// finish waits for the run to finish and returns it.
func (s *server) finish(t *testing.T, runID string) *client.Run {
	t.Helper()
	run, err := s.c.Run(runID).WaitForFinish(testCtx(t), 90)
	if err != nil {
		t.Fatalf("wait for %s: %v", runID, err)
	}
	if !run.Status.Terminal() {
		t.Fatalf("run %s still %s after waiting", runID, run.Status)
	}
	return run
}

// waitLog follows the run's log until a line contains want.
func (s *server) waitLog(t *testing.T, runID, want string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(testCtx(t), 60*time.Second)
	defer cancel()
	stream, err := s.c.Run(runID).Log().Stream(ctx)
	if err != nil {
		t.Fatalf("stream log: %v", err)
	}
	defer stream.Close()
	sc := bufio.NewScanner(stream)
	var seen []string
	for sc.Scan() {
		if strings.Contains(sc.Text(), want) {
			return
		}
		seen = append(seen, sc.Text())
	}
	t.Fatalf("log of %s ended without %q; it had:\n%s", runID, want, strings.Join(seen, "\n"))
}

func (s *server) log(t *testing.T, runID string) string {
	t.Helper()
	log, err := s.c.Run(runID).Log().Get(testCtx(t))
	if err != nil {
		t.Fatalf("get log: %v", err)
	}
	return log
}

// record returns a record of the run's default key-value store decoded as
// JSON into a map (nil when there is none).
func (s *server) record(t *testing.T, runID, key string) map[string]any {
	t.Helper()
	rec, err := s.c.Run(runID).KeyValueStore().GetRecord(testCtx(t), key)
	if err != nil {
		t.Fatalf("get record %s: %v", key, err)
	}
	if rec == nil {
		return nil
	}
	var v map[string]any
	if err := json.Unmarshal(rec.Value, &v); err != nil {
		t.Fatalf("record %s is not JSON: %q", key, rec.Value)
	}
	return v
}

func wantStatus(t *testing.T, run *client.Run, want client.Status) {
	t.Helper()
	if run.Status != want {
		msg := ""
		if run.StatusMessage != nil {
			msg = *run.StatusMessage
		}
		t.Fatalf("run %s is %s (%q), want %s", run.ID, run.Status, msg, want)
	}
}

func wantErrorType(t *testing.T, err error, want string) {
	t.Helper()
	var ce *client.Error
	if !errors.As(err, &ce) || ce.Type != want {
		t.Fatalf("err = %v, want API error %s", err, want)
	}
}

func message(run *client.Run) string {
	if run.StatusMessage == nil {
		return ""
	}
	return *run.StatusMessage
}

var logLine = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z `)

var nameSeq atomic.Int64

// uniqueName returns prefix and a number no other call in this test binary
// returns, so that a test run again (go test -count=N) on the shared server
// does not meet the actors and tasks its earlier runs made.
func uniqueName(prefix string) string {
	return fmt.Sprintf("%s-%d", prefix, nameSeq.Add(1))
}
