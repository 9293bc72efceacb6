package client_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/troupehq/troupe/client"
)

func TestDo(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t.Run("DecodesData", func(t *testing.T) {
		t.Parallel()
		b := setup(t, func(w http.ResponseWriter, r *http.Request) {
			writeData(w, http.StatusCreated, map[string]any{"id": "x1", "n": 3})
		})
		req, err := b.c.NewRequest(ctx, "POST", "/custom/thing?flag=1", map[string]int{"a": 1})
		if err != nil {
			t.Fatal(err)
		}
		var got struct {
			ID string `json:"id"`
			N  int    `json:"n"`
		}
		resp, err := b.c.Do(ctx, req, &got)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusCreated || got.ID != "x1" || got.N != 3 {
			t.Errorf("status %d, data %+v", resp.StatusCode, got)
		}
		r := b.last(t)
		if r.Method != "POST" || r.Path != "/v2/custom/thing" || r.RawQuery != "flag=1" || r.Body != `{"a":1}` ||
			r.ContentType != "application/json; charset=utf-8" || r.Auth != "Bearer tok" {
			t.Errorf("request %+v", r)
		}
	})
	t.Run("RawBodyAndNoBody", func(t *testing.T) {
		t.Parallel()
		b := setup(t, func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte("plain text"))
		})
		req, err := b.c.NewRequest(ctx, "GET", "actor-runs/r1/log", nil)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if _, err := b.c.Do(ctx, req, &buf); err != nil {
			t.Fatal(err)
		}
		if buf.String() != "plain text" {
			t.Errorf("body %q", buf.String())
		}
		if r := b.last(t); r.Path != "/v2/actor-runs/r1/log" || r.Body != "" || r.ContentType != "" {
			t.Errorf("request %+v", r)
		}
	})
	t.Run("TypedError", func(t *testing.T) {
		t.Parallel()
		b := setup(t, func(w http.ResponseWriter, r *http.Request) {
			writeError(w, http.StatusBadRequest, "cannot-charge-non-pay-per-event-actor", "Not pay per event.")
		})
		req, _ := b.c.NewRequest(ctx, "POST", "/actor-runs/r1/charge", []byte(`{"eventName":"x"}`))
		_, err := b.c.Do(ctx, req, nil)
		var apiErr *client.Error
		if !errors.As(err, &apiErr) || apiErr.StatusCode != 400 || apiErr.Type != "cannot-charge-non-pay-per-event-actor" || apiErr.Message != "Not pay per event." {
			t.Fatalf("err = %#v", err)
		}
		if r := b.last(t); r.Body != `{"eventName":"x"}` {
			t.Errorf("body %q", r.Body)
		}
	})
	t.Run("RetriesWithBody", func(t *testing.T) {
		t.Parallel()
		n := 0
		b := setup(t, func(w http.ResponseWriter, r *http.Request) {
			if n++; n == 1 {
				writeError(w, http.StatusServiceUnavailable, "server-busy", "Busy.")
				return
			}
			writeData(w, http.StatusOK, "ok")
		})
		req, _ := b.c.NewRequest(ctx, "PUT", "/x", []byte(`{"v":2}`))
		var got string
		if _, err := b.c.Do(ctx, req, &got); err != nil || got != "ok" {
			t.Fatalf("got %q, err %v", got, err)
		}
		reqs := b.requests()
		if len(reqs) != 2 || reqs[0].Body != `{"v":2}` || reqs[1].Body != `{"v":2}` {
			t.Errorf("requests %+v", reqs)
		}
	})
	t.Run("NoData", func(t *testing.T) {
		t.Parallel()
		b := setup(t, func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(`{}`)) })
		req, _ := b.c.NewRequest(ctx, "GET", "/x", nil)
		var v map[string]any
		if _, err := b.c.Do(ctx, req, &v); err == nil {
			t.Error("an answer without data decoded")
		}
	})
}
