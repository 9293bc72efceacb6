package api_test

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/troupehq/troupe"
)

func TestLogs(t *testing.T) {
	t.Parallel()
	b := setup(t, false)
	a := b.actor("logger", "")
	run := b.start(a.ID, "", nil, "")
	ctx := context.Background()
	line1 := "2026-01-01T00:00:00.000Z \x1b[1;31mred\x1b[0m start\n"
	if err := b.store.AppendLog(ctx, run.ID, []byte(line1)); err != nil {
		t.Fatal(err)
	}

	t.Run("Plain", func(t *testing.T) {
		for _, path := range []string{"/v2/logs/" + run.ID, "/v2/actor-runs/" + run.ID + "/log"} {
			r := b.call("GET", path, nil)
			if r.status != 200 || string(r.body) != "2026-01-01T00:00:00.000Z red start\n" {
				t.Errorf("%s = %d %q", path, r.status, r.body)
			}
			if ct := r.header.Get("Content-Type"); ct != "text/plain; charset=utf-8" {
				t.Errorf("Content-Type = %q", ct)
			}
		}
	})
	t.Run("Raw", func(t *testing.T) {
		if r := b.call("GET", "/v2/logs/"+run.ID+"?raw=1", nil); string(r.body) != line1 {
			t.Errorf("raw log = %q", r.body)
		}
	})
	t.Run("Download", func(t *testing.T) {
		r := b.call("GET", "/v2/actor-runs/"+run.ID+"/log?download=true", nil)
		if cd := r.header.Get("Content-Disposition"); !strings.HasPrefix(cd, "attachment") {
			t.Errorf("Content-Disposition = %q", cd)
		}
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		b.call("GET", "/v2/logs/nope", nil).fails(t, 404, "record-not-found")
		b.call("GET", "/v2/actor-runs/nope/log", nil).fails(t, 404, "record-not-found")
		b.call("GET", "/v2/logs/"+run.ID+"?stream=often", nil).fails(t, 400, "invalid-parameter")
	})
	t.Run("Build", func(t *testing.T) {
		var bd apiBuild
		b.call("POST", "/v2/actors/"+a.ID+"/builds?version=0.0", nil).ok(t, 201, &bd)
		if err := b.store.AppendLog(ctx, bd.ID, []byte("2026-01-01T00:00:00.000Z building\n")); err != nil {
			t.Fatal(err)
		}
		if r := b.call("GET", "/v2/logs/"+bd.ID, nil); string(r.body) != "2026-01-01T00:00:00.000Z building\n" {
			t.Errorf("build log via /v2/logs = %q", r.body)
		}
	})
	t.Run("Stream", func(t *testing.T) {
		req, _ := http.NewRequest("GET", b.srv.URL+"/v2/actor-runs/"+run.ID+"/log?stream=1&raw=1", nil)
		req.Header.Set("Authorization", "Bearer "+adminToken)
		resp, err := b.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		rd := bufio.NewReader(resp.Body)
		// What exists comes at once, before the run ends.
		if got, err := rd.ReadString('\n'); err != nil || got != line1 {
			t.Fatalf("first line = %q, %v", got, err)
		}
		line2 := "2026-01-01T00:00:01.000Z second\n"
		if err := b.store.AppendLog(ctx, run.ID, []byte(line2)); err != nil {
			t.Fatal(err)
		}
		if got, err := rd.ReadString('\n'); err != nil || got != line2 {
			t.Fatalf("second line = %q, %v", got, err)
		}
		// The last lines and the end of the run: the stream sends the
		// lines, then ends.
		if err := b.store.AppendLog(ctx, run.ID, []byte("2026-01-01T00:00:02.000Z last\n")); err != nil {
			t.Fatal(err)
		}
		b.finish(run.ID, 0)
		rest, err := io.ReadAll(rd)
		if err != nil || string(rest) != "2026-01-01T00:00:02.000Z last\n" {
			t.Fatalf("rest = %q, %v", rest, err)
		}
	})
	t.Run("StreamFinished", func(t *testing.T) {
		r := b.call("GET", "/v2/logs/"+run.ID+"?stream=true", nil)
		if !strings.HasSuffix(string(r.body), "last\n") || strings.Count(string(r.body), "\n") != 3 {
			t.Errorf("log of a finished run = %q", r.body)
		}
	})
}

// TestLongBuildLog: a log longer than one store read is served whole, read
// in parts.
func TestLongBuildLog(t *testing.T) {
	t.Parallel()
	b := setup(t, false)
	a := b.createActor("chatty")
	bd := b.buildActor(a, "")
	var want strings.Builder
	for i := range 5 {
		chunk := strings.Repeat(string(rune('a'+i)), troupe.LogReadBytes/2) + "\n"
		if err := b.store.AppendLog(context.Background(), bd.ID, []byte(chunk)); err != nil {
			t.Fatal(err)
		}
		want.WriteString(chunk)
	}
	r := b.call("GET", "/v2/actor-builds/"+bd.ID+"/log", nil)
	if r.status != 200 || string(r.body) != want.String() {
		t.Errorf("log = %d, %d bytes; want 200, the %d bytes written", r.status, len(r.body), want.Len())
	}
}
