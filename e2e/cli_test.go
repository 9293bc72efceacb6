package e2e_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/troupehq/troupe/client"
)

// troupeCLI runs the troupe binary as a client of s.
func (s *server) cli(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(binPath, args...)
	cmd.Env = append(os.Environ(), "TROUPE_URL="+s.URL, "TROUPE_TOKEN="+testToken)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestPushAndCall(t *testing.T) {
	t.Parallel()
	s := shared
	name := uniqueName("pushed")
	s.pushProject(t, map[string]string{
		".actor/actor.json": `{"actorSpecification":1,"name":"` + name + `","version":"1.2"}`,
		"Dockerfile":        "FROM alpine\nCOPY . ./\nCMD echo pushed-ok $(cat note.txt) $ACTOR_BUILD_NUMBER\n",
		"note.txt":          "from-a-file",
	})
	out, err := s.cli(t, "call", name)
	if err != nil {
		t.Fatalf("call: %v\n%s", err, out)
	}
	if !strings.Contains(out, "pushed-ok from-a-file 1.2.1") || !strings.Contains(out, "SUCCEEDED") {
		t.Errorf("call output lacks the run's log or status:\n%s", out)
	}
	out, err = s.cli(t, "runs", "ls", "--actor", name, "-o", "json")
	if err != nil {
		t.Fatalf("runs ls: %v\n%s", err, out)
	}
	var list struct {
		Items []client.Run `json:"items"`
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatalf("runs ls -o json is not JSON: %v\n%s", err, out)
	}
	if len(list.Items) != 1 || list.Items[0].Status != client.StatusSucceeded || list.Items[0].BuildNumber != "1.2.1" {
		t.Errorf("runs ls = %+v", list.Items)
	}
	if out, err := s.cli(t, "call", "failer"); err == nil {
		t.Errorf("call of a failing actor exited 0:\n%s", out)
	}
}

// pushProject writes files into a temporary project folder and pushes it
// with the CLI.
func (s *server) pushProject(t *testing.T, files map[string]string) {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := s.cli(t, "push", dir); err != nil {
		t.Fatalf("push: %v\n%s", err, out)
	}
}

func TestMemoryLimit(t *testing.T) {
	t.Parallel()
	s := shared
	s.pushProject(t, map[string]string{
		".actor/actor.json": `{"actorSpecification":1,"name":"hog","version":"0.1"}`,
		"Dockerfile":        "FROM node:20\nCMD [\"node\", \"-e\", \"const a=[]; setInterval(() => a.push(Buffer.alloc(20e6, 1)), 50)\"]\n",
	})
	run := s.finish(t, s.start(t, "hog", "", &client.StartOptions{MemoryMbytes: client.Ptr(128)}).ID)
	wantStatus(t, run, client.StatusFailed)
	if !strings.Contains(message(run), "memory limit of 128 MB") {
		t.Errorf("status message %q does not name the memory limit", message(run))
	}
	if run.Stats.MemMaxBytes < 100<<20 {
		t.Errorf("memMaxBytes %d; the run grew past 128 MB before it was killed", run.Stats.MemMaxBytes)
	}
}
