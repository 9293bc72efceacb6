package main

import (
	"strings"
	"testing"
	"time"

	"github.com/troupehq/troupe/client"
)

// TestCLIBuildsAbort: `troupe builds abort ID` posts the abort and shows
// the build as the server answers it.
func TestCLIBuildsAbort(t *testing.T) {
	t.Parallel()
	f := newFakeAPI(t)
	fin := t0.Add(3 * time.Second)
	f.data("POST /v2/actor-builds/{id}/abort", 200, &client.Build{ID: "B1", ActID: "A1", BuildNumber: "0.1.4",
		Status: client.StatusAborted, StatusMessage: "The build was aborted; its processes were killed.",
		StartedAt: t0, FinishedAt: &fin, Options: client.BuildSettings{TimeoutSecs: 1800}})

	out, _, err := f.run("builds", "abort", "B1")
	if err != nil {
		t.Fatal(err)
	}
	f.one("POST", "/v2/actor-builds/B1/abort")
	for _, want := range []string{"B1", "0.1.4", "ABORTED", "The build was aborted", "1800s"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if _, _, err := f.run("builds", "abort"); err == nil {
		t.Error("builds abort without an id succeeded")
	}
}
