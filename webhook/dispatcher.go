// Package webhook delivers webhook dispatches: the outbox rows the store
// writes with the run and build changes that trigger webhooks.
//
// Every troupe server runs one Dispatcher. It claims due dispatches from the
// store with a lease (so that one server sends a given dispatch at a time,
// and another takes it over when the first dies), sends each as an HTTP
// POST with a timeout, and records the call: a 2xx answer ends the
// dispatch, anything else schedules the next call on the retry schedule
// until the attempts run out. Between claims it sleeps until the next
// dispatch is due or the store announces a new one; it never polls.
package webhook

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"
	"unicode/utf8"

	"github.com/troupehq/troupe"
)

// Config configures a Dispatcher.
type Config struct {
	Store troupe.Store
	// Owner names this server in claims.
	Owner string
	// Retry is the schedule of calls (default troupe.DefaultWebhookRetry).
	Retry troupe.WebhookRetry
	// Timeout bounds one call, from connecting to reading the answer
	// (default 30 s).
	Timeout time.Duration
	// Concurrency is how many calls run at once (default 8).
	Concurrency int
	Logger      *slog.Logger
	// Now is the clock (default troupe.Now).
	Now func() time.Time
}

// MaxResponseBody is how much of a receiver's answer a call keeps.
const MaxResponseBody = 1024

// Dispatcher sends webhook dispatches. Create it with New and run it with
// Run.
type Dispatcher struct {
	cfg              Config
	lease            time.Duration
	client, insecure *http.Client
}

// New returns a Dispatcher.
func New(cfg Config) *Dispatcher {
	if cfg.Retry.Attempts <= 0 {
		cfg.Retry = troupe.DefaultWebhookRetry
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 8
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = troupe.Now
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	insecure := tr.Clone()
	insecure.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // the webhook's ignoreSslErrors asks for it
	return &Dispatcher{
		cfg: cfg,
		// A claim outlives the call it makes with room to record it.
		lease:    cfg.Timeout + 30*time.Second,
		client:   &http.Client{Transport: tr, Timeout: cfg.Timeout},
		insecure: &http.Client{Transport: insecure, Timeout: cfg.Timeout},
	}
}

// Run sends dispatches until ctx ends, then waits for the calls under way.
func (d *Dispatcher) Run(ctx context.Context) {
	wake, stop := d.cfg.Store.Watch(troupe.WebhookDispatchKey)
	defer stop()
	free := make(chan struct{}, d.cfg.Concurrency) // a token per free slot
	for range d.cfg.Concurrency {
		free <- struct{}{}
	}
	done := make(chan struct{}, d.cfg.Concurrency)
	running := 0
	defer func() {
		for ; running > 0; running-- {
			<-done
		}
	}()
	errDelay := time.Second
	for {
		n := len(free)
		var batch []*troupe.WebhookDispatch
		var err error
		if n > 0 {
			batch, err = d.cfg.Store.ClaimDispatches(ctx, d.cfg.Owner, d.lease, n)
		}
		var wait time.Duration = -1 // none: until woken
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			d.cfg.Logger.Warn("webhook: claim dispatches", "err", err)
			wait, errDelay = errDelay, min(2*errDelay, time.Minute)
		case len(batch) > 0:
			errDelay = time.Second
			for _, disp := range batch {
				<-free
				running++
				go func() {
					d.send(ctx, disp)
					free <- struct{}{}
					done <- struct{}{}
				}()
			}
			if len(free) > 0 {
				continue // more may be due
			}
		case n > 0:
			at, ok, err := d.cfg.Store.NextDispatchAt(ctx)
			if err != nil {
				d.cfg.Logger.Warn("webhook: next dispatch", "err", err)
				wait = errDelay
			} else if ok {
				wait = max(at.Sub(d.cfg.Now()), 0) + time.Millisecond
			}
		}
		var timer <-chan time.Time
		var t *time.Timer
		if wait >= 0 {
			t = time.NewTimer(wait)
			timer = t.C
		}
		select {
		case <-ctx.Done():
		case <-wake:
		case <-timer:
		case <-done:
			running--
		}
		if t != nil {
			t.Stop()
		}
	}
}

// send makes one call of disp and records it.
func (d *Dispatcher) send(ctx context.Context, disp *troupe.WebhookDispatch) {
	call := d.call(ctx, disp)
	if ctx.Err() != nil {
		return // stopping: the lease runs out and the call is made again
	}
	status, retryAt := troupe.DispatchSucceeded, time.Time{}
	if call.ErrorMessage != nil {
		n := len(disp.Calls) + 1
		if disp.Request.DoNotRetry || n >= d.cfg.Retry.Attempts {
			status = troupe.DispatchFailed
		} else {
			status, retryAt = troupe.DispatchActive, d.cfg.Now().Add(d.cfg.Retry.Delay(n))
		}
	}
	if err := d.cfg.Store.FinishCall(ctx, disp, call, status, retryAt); err != nil {
		d.cfg.Logger.Warn("webhook: record call", "dispatch", disp.ID, "err", err)
		return
	}
	if status != troupe.DispatchActive {
		d.cfg.Logger.Info("webhook: dispatch ended", "dispatch", disp.ID, "webhook", disp.WebhookID,
			"event", disp.EventType, "status", status, "calls", len(disp.Calls))
	}
}

// call POSTs the dispatch's payload to its URL with its headers.
func (d *Dispatcher) call(ctx context.Context, disp *troupe.WebhookDispatch) troupe.WebhookCall {
	call := troupe.WebhookCall{StartedAt: d.cfg.Now()}
	fail := func(msg string) troupe.WebhookCall {
		fin := d.cfg.Now()
		call.FinishedAt, call.ErrorMessage = &fin, &msg
		return call
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, disp.Request.URL, bytes.NewReader(disp.Request.Payload))
	if err != nil {
		return fail("Cannot make the request: " + err.Error())
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("User-Agent", "troupe-webhook")
	for k, v := range disp.Request.Headers { // the headers template may override those two
		req.Header.Set(k, v)
	}
	req.Header.Set("X-Apify-Webhook", disp.WebhookID)
	req.Header.Set("X-Apify-Webhook-Dispatch-Id", disp.ID)
	client := d.client
	if disp.Request.IgnoreSslErrors {
		client = d.insecure
	}
	resp, err := client.Do(req)
	if err != nil {
		return fail("Cannot send the request: " + err.Error())
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBody))
	resp.Body.Close()
	fin := d.cfg.Now()
	status := resp.StatusCode
	call.FinishedAt, call.ResponseStatus = &fin, &status
	if utf8.Valid(body) {
		b := string(body)
		call.ResponseBody = &b
	}
	if status < 200 || status > 299 {
		msg := fmt.Sprintf("The receiver answered %d.", status)
		call.ErrorMessage = &msg
	}
	return call
}
