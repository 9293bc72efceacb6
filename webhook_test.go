package troupe_test

import (
	"strings"
	"testing"
	"time"

	"github.com/troupehq/troupe"
)

func TestRunEvent(t *testing.T) {
	for _, tc := range []struct {
		old, new troupe.Status
		want     string
	}{
		{"", troupe.StatusReady, troupe.EventRunCreated},
		{troupe.StatusReady, troupe.StatusRunning, ""},
		{troupe.StatusRunning, troupe.StatusSucceeded, troupe.EventRunSucceeded},
		{troupe.StatusRunning, troupe.StatusFailed, troupe.EventRunFailed},
		{troupe.StatusAborting, troupe.StatusAborted, troupe.EventRunAborted},
		{troupe.StatusTimingOut, troupe.StatusTimedOut, troupe.EventRunTimedOut},
		{troupe.StatusRunning, troupe.StatusTimingOut, ""},
		{troupe.StatusSucceeded, troupe.StatusRunning, troupe.EventRunResurrected},
		{troupe.StatusSucceeded, troupe.StatusSucceeded, ""},
	} {
		if got := troupe.RunEvent(tc.old, &troupe.Run{Status: tc.new}); got != tc.want {
			t.Errorf("RunEvent(%s → %s) = %q, want %q", tc.old, tc.new, got, tc.want)
		}
	}
	if got := troupe.BuildEvent(troupe.StatusRunning, &troupe.Build{Status: troupe.StatusTimedOut}); got != troupe.EventBuildTimedOut {
		t.Errorf("BuildEvent to TIMED-OUT = %q", got)
	}
}

func TestWebhookRender(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 600e6, time.UTC)
	run := &troupe.Run{ID: "R1", ActID: "A1", Status: troupe.StatusSucceeded, DefaultDatasetID: "D1"}
	ev := troupe.NewRunEvent(troupe.EventRunSucceeded, run, at)
	ev.UserID = "U1"
	tpl := `{"ds": {{resource.defaultDatasetId}}, "msg": "run {{resource.id}} of {{userId}} at {{createdAt}}",
		"missing": {{resource.nope}}, "data": {{eventData}}}`
	hdr := `{"X-Event": {{eventType}}, "X-Text": "n={{globals.dateUnix}}"}`
	for _, tc := range []struct {
		interpolate bool
		payload     string
	}{
		{false, `{"ds": "D1", "msg": "run {{resource.id}} of {{userId}} at {{createdAt}}",
		"missing": null, "data": {"actorId":"A1","actorRunId":"R1"}}`},
		{true, `{"ds": "D1", "msg": "run R1 of U1 at 2026-01-02T03:04:05.600Z",
		"missing": null, "data": {"actorId":"A1","actorRunId":"R1"}}`},
	} {
		w := &troupe.Webhook{PayloadTemplate: tpl, HeadersTemplate: &hdr, ShouldInterpolateStrings: tc.interpolate}
		payload, headers, err := w.Render(ev)
		if err != nil {
			t.Fatal(err)
		}
		if string(payload) != tc.payload {
			t.Errorf("interpolate %v: payload\n%s\nwant\n%s", tc.interpolate, payload, tc.payload)
		}
		if headers["X-Event"] != troupe.EventRunSucceeded {
			t.Errorf("headers %v", headers)
		}
		if tc.interpolate && headers["X-Text"] != "n=1767323045600" {
			t.Errorf("interpolated header %q", headers["X-Text"])
		}
	}
	for _, bad := range []string{`{"a": {{unknown}}}`, `{"a": {{userId}}`, `not json`} {
		w := &troupe.Webhook{PayloadTemplate: bad}
		if _, _, err := w.Render(ev); err == nil {
			t.Errorf("template %q rendered", bad)
		}
	}
	// The default template gives the run itself as resource.
	w := &troupe.Webhook{}
	payload, _, err := w.Render(ev)
	if err != nil || !strings.Contains(string(payload), `"resource": {"id":"R1"`) {
		t.Fatalf("default payload %s, %v", payload, err)
	}
}
