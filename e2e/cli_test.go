package e2e_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/troupehq/troupe"
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
	dir := t.TempDir()
	files := map[string]string{
		".actor/actor.json": `{"actorSpecification":1,"name":"pushed","version":"1.2"}`,
		"Dockerfile":        "FROM alpine\nCOPY . ./\nCMD echo pushed-ok $(cat note.txt) $ACTOR_BUILD_NUMBER\n",
		"note.txt":          "from-a-file",
	}
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
	out, err := s.cli(t, "call", "pushed")
	if err != nil {
		t.Fatalf("call: %v\n%s", err, out)
	}
	if !strings.Contains(out, "pushed-ok from-a-file 1.2.1") || !strings.Contains(out, "SUCCEEDED") {
		t.Errorf("call output lacks the run's log or status:\n%s", out)
	}
	out, err = s.cli(t, "runs", "ls", "--actor", "pushed", "-o", "json")
	if err != nil {
		t.Fatalf("runs ls: %v\n%s", err, out)
	}
	var list struct {
		Items []troupe.Run `json:"items"`
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatalf("runs ls -o json is not JSON: %v\n%s", err, out)
	}
	if len(list.Items) != 1 || list.Items[0].Status != troupe.StatusSucceeded || list.Items[0].BuildNumber != "1.2.1" {
		t.Errorf("runs ls = %+v", list.Items)
	}
	if out, err := s.cli(t, "call", "failer"); err == nil {
		t.Errorf("call of a failing actor exited 0:\n%s", out)
	}
}
