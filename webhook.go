package troupe

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Webhook event types (eventTypes). TEST is the event of a test dispatch.
const (
	EventRunCreated       = "ACTOR.RUN.CREATED"
	EventRunSucceeded     = "ACTOR.RUN.SUCCEEDED"
	EventRunFailed        = "ACTOR.RUN.FAILED"
	EventRunAborted       = "ACTOR.RUN.ABORTED"
	EventRunTimedOut      = "ACTOR.RUN.TIMED_OUT"
	EventRunResurrected   = "ACTOR.RUN.RESURRECTED"
	EventBuildCreated     = "ACTOR.BUILD.CREATED"
	EventBuildSucceeded   = "ACTOR.BUILD.SUCCEEDED"
	EventBuildFailed      = "ACTOR.BUILD.FAILED"
	EventBuildAborted     = "ACTOR.BUILD.ABORTED"
	EventBuildTimedOut    = "ACTOR.BUILD.TIMED_OUT"
	EventTest             = "TEST"
	WebhookActionHTTP     = "HTTP_REQUEST"
	DispatchActive        = "ACTIVE"
	DispatchSucceeded     = "SUCCEEDED"
	DispatchFailed        = "FAILED"
	MaxWebhooksPerRequest = 100 // ad-hoc webhooks one run start may add
	// MaxWebhooksPerRun is how many ad-hoc webhooks a run may add with its
	// own token (Actor.addWebhook).
	MaxWebhooksPerRun = 100
	// MaxWebhookTemplateBytes bounds a payload or headers template.
	MaxWebhookTemplateBytes = 64 << 10
)

// WebhookEventTypes lists the event types a webhook may name.
var WebhookEventTypes = []string{
	EventRunCreated, EventRunSucceeded, EventRunFailed, EventRunAborted, EventRunTimedOut,
	EventRunResurrected, EventBuildCreated, EventBuildSucceeded, EventBuildFailed,
	EventBuildAborted, EventBuildTimedOut,
}

// DefaultPayloadTemplate is the payload a webhook sends when it sets no
// payloadTemplate.
const DefaultPayloadTemplate = `{
    "userId": {{userId}},
    "createdAt": {{createdAt}},
    "eventType": {{eventType}},
    "eventData": {{eventData}},
    "resource": {{resource}}
}`

// WebhookCondition says which actor, task or run a webhook follows.
type WebhookCondition struct {
	ActorID     *string `json:"actorId,omitempty"`
	ActorTaskID *string `json:"actorTaskId,omitempty"`
	ActorRunID  *string `json:"actorRunId,omitempty"`
}

// WebhookLastDispatch is the status of a webhook's latest dispatch.
type WebhookLastDispatch struct {
	Status     string     `json:"status"`
	FinishedAt *time.Time `json:"finishedAt"`
}

// WebhookStats counts a webhook's dispatches.
type WebhookStats struct {
	TotalDispatches int `json:"totalDispatches"`
}

// Webhook sends an HTTP request to RequestURL when one of its events
// happens to what its Condition names.
type Webhook struct {
	ID                       string               `json:"id"`
	CreatedAt                time.Time            `json:"createdAt"`
	ModifiedAt               time.Time            `json:"modifiedAt"`
	UserID                   string               `json:"userId"`
	IsAdHoc                  bool                 `json:"isAdHoc"`
	IsApifyIntegration       bool                 `json:"isApifyIntegration"`
	ActionType               string               `json:"actionType"`
	ShouldInterpolateStrings bool                 `json:"shouldInterpolateStrings"`
	EventTypes               []string             `json:"eventTypes"`
	Condition                WebhookCondition     `json:"condition"`
	IgnoreSslErrors          bool                 `json:"ignoreSslErrors"`
	DoNotRetry               bool                 `json:"doNotRetry"`
	RequestURL               string               `json:"requestUrl"`
	PayloadTemplate          string               `json:"payloadTemplate"`
	HeadersTemplate          *string              `json:"headersTemplate"`
	Description              *string              `json:"description"`
	IdempotencyKey           *string              `json:"idempotencyKey,omitempty"`
	LastDispatch             *WebhookLastDispatch `json:"lastDispatch"`
	Stats                    WebhookStats         `json:"stats"`
}

// WebhookFields are the fields a client sets when it creates or updates a
// webhook; a nil field is left as it was (or at its default).
type WebhookFields struct {
	IsAdHoc                  *bool             `json:"isAdHoc"`
	IsApifyIntegration       *bool             `json:"isApifyIntegration"`
	EventTypes               []string          `json:"eventTypes"`
	Condition                *WebhookCondition `json:"condition"`
	IdempotencyKey           *string           `json:"idempotencyKey"`
	IgnoreSslErrors          *bool             `json:"ignoreSslErrors"`
	DoNotRetry               *bool             `json:"doNotRetry"`
	RequestURL               *string           `json:"requestUrl"`
	PayloadTemplate          *string           `json:"payloadTemplate"`
	HeadersTemplate          *string           `json:"headersTemplate"`
	Description              *string           `json:"description"`
	ShouldInterpolateStrings *bool             `json:"shouldInterpolateStrings"`
}

// Apply sets w's fields from f and checks the result (CheckWebhook).
func (f *WebhookFields) Apply(w *Webhook) error {
	set := func(dst *bool, src *bool) {
		if src != nil {
			*dst = *src
		}
	}
	set(&w.IsAdHoc, f.IsAdHoc)
	set(&w.IsApifyIntegration, f.IsApifyIntegration)
	set(&w.IgnoreSslErrors, f.IgnoreSslErrors)
	set(&w.DoNotRetry, f.DoNotRetry)
	set(&w.ShouldInterpolateStrings, f.ShouldInterpolateStrings)
	if f.EventTypes != nil {
		w.EventTypes = slices.Clone(f.EventTypes)
	}
	if f.Condition != nil {
		w.Condition = *f.Condition
	}
	if f.RequestURL != nil {
		w.RequestURL = *f.RequestURL
	}
	if f.PayloadTemplate != nil {
		w.PayloadTemplate = *f.PayloadTemplate
	}
	if f.HeadersTemplate != nil {
		w.HeadersTemplate = emptyNil(*f.HeadersTemplate)
	}
	if f.Description != nil {
		w.Description = emptyNil(*f.Description)
	}
	if f.IdempotencyKey != nil && w.IdempotencyKey == nil {
		w.IdempotencyKey = emptyNil(*f.IdempotencyKey)
	}
	return CheckWebhook(w)
}

func emptyNil(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// NewWebhook returns the webhook f describes, not yet stored: defaults
// filled in (payload template DefaultPayloadTemplate) and checked.
// invalid-input.
func NewWebhook(f *WebhookFields, userID string, now time.Time) (*Webhook, error) {
	w := &Webhook{ID: NewID(), UserID: userID, CreatedAt: now, ModifiedAt: now,
		ActionType: WebhookActionHTTP, PayloadTemplate: DefaultPayloadTemplate}
	if f.EventTypes == nil {
		return nil, Errorf(ErrInvalidInput, "Webhook must have eventTypes.")
	}
	if f.RequestURL == nil {
		return nil, Errorf(ErrInvalidInput, "Webhook must have a requestUrl.")
	}
	if err := f.Apply(w); err != nil {
		return nil, err
	}
	if w.PayloadTemplate == "" {
		w.PayloadTemplate = DefaultPayloadTemplate
	}
	return w, nil
}

// CheckWebhook checks a webhook a client described: known event types (at
// least one), one condition, an http(s) request URL and templates that
// render. invalid-input.
func CheckWebhook(w *Webhook) error {
	if len(w.EventTypes) == 0 {
		return Errorf(ErrInvalidInput, "Webhook must have at least one event type.")
	}
	for _, e := range w.EventTypes {
		if !slices.Contains(WebhookEventTypes, e) {
			return Errorf(ErrInvalidInput, "Unknown webhook event type %q.", e)
		}
	}
	slices.Sort(w.EventTypes)
	w.EventTypes = slices.Compact(w.EventTypes)
	c := w.Condition
	n := 0
	for _, p := range []*string{c.ActorID, c.ActorTaskID, c.ActorRunID} {
		if p != nil && *p != "" {
			n++
		}
	}
	if n != 1 {
		return Errorf(ErrInvalidInput, "Webhook condition must name exactly one of actorId, actorTaskId, actorRunId.")
	}
	u, err := url.Parse(w.RequestURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || len(w.RequestURL) > 2048 {
		return Errorf(ErrInvalidInput, "Webhook requestUrl must be an absolute http or https URL.")
	}
	if len(w.PayloadTemplate) > MaxWebhookTemplateBytes || w.HeadersTemplate != nil && len(*w.HeadersTemplate) > MaxWebhookTemplateBytes {
		return Errorf(ErrInvalidInput, "Webhook templates are limited to %d bytes.", MaxWebhookTemplateBytes)
	}
	if w.Description != nil && len(*w.Description) > 4096 {
		return Errorf(ErrInvalidInput, "Webhook description is limited to 4096 bytes.")
	}
	sample := WebhookEvent{Type: EventTest, UserID: w.UserID, CreatedAt: time.Unix(0, 0).UTC(),
		Data: map[string]any{}, Resource: map[string]any{}}
	if _, _, err := w.Render(sample); err != nil {
		return Errorf(ErrInvalidInput, "%v", err)
	}
	return nil
}

// WebhookEvent is something that happened to a run or build.
type WebhookEvent struct {
	Type      string
	UserID    string
	CreatedAt time.Time
	ActorID   string
	TaskID    string // the run's task, if any
	RunID     string // empty for build events
	Data      map[string]any
	Resource  any // the run or build as the API shows it
}

// RunEvent returns the event of a run changing from status old to the run's
// status (old empty: created), or "" when the change is no event.
func RunEvent(old Status, r *Run) string {
	switch {
	case old == "":
		return EventRunCreated
	case old == r.Status:
		return ""
	case old.Terminal() && !r.Status.Terminal():
		return EventRunResurrected
	case !old.Terminal() && r.Status.Terminal():
		return terminalEvent("ACTOR.RUN.", r.Status)
	}
	return ""
}

// BuildEvent is RunEvent for builds.
func BuildEvent(old Status, b *Build) string {
	switch {
	case old == "":
		return EventBuildCreated
	case old != b.Status && !old.Terminal() && b.Status.Terminal():
		return terminalEvent("ACTOR.BUILD.", b.Status)
	}
	return ""
}

func terminalEvent(prefix string, s Status) string {
	return prefix + strings.ReplaceAll(string(s), "-", "_")
}

// NewRunEvent returns the event typ of run r at now.
func NewRunEvent(typ string, r *Run, now time.Time) WebhookEvent {
	data := map[string]any{"actorId": r.ActID, "actorRunId": r.ID}
	ev := WebhookEvent{Type: typ, UserID: r.UserID, CreatedAt: now, ActorID: r.ActID, RunID: r.ID,
		Data: data, Resource: r}
	if r.ActorTaskID != nil && *r.ActorTaskID != "" {
		data["actorTaskId"] = *r.ActorTaskID
		ev.TaskID = *r.ActorTaskID
	}
	return ev
}

// NewBuildEvent returns the event typ of build b at now.
func NewBuildEvent(typ string, b *Build, now time.Time) WebhookEvent {
	return WebhookEvent{Type: typ, UserID: b.UserID, CreatedAt: now, ActorID: b.ActID,
		Data: map[string]any{"actorId": b.ActID, "actorBuildId": b.ID}, Resource: b}
}

// Matches reports whether the event triggers w.
func (w *Webhook) Matches(ev WebhookEvent) bool {
	if !slices.Contains(w.EventTypes, ev.Type) {
		return false
	}
	c := w.Condition
	eq := func(p *string, v string) bool { return p != nil && v != "" && *p == v }
	return eq(c.ActorID, ev.ActorID) || eq(c.ActorTaskID, ev.TaskID) || eq(c.ActorRunID, ev.RunID)
}

// WebhookCall is one attempt to deliver a dispatch.
type WebhookCall struct {
	StartedAt      time.Time  `json:"startedAt"`
	FinishedAt     *time.Time `json:"finishedAt"`
	ErrorMessage   *string    `json:"errorMessage"`
	ResponseStatus *int       `json:"responseStatus"`
	ResponseBody   *string    `json:"responseBody"`
}

// WebhookSummary is what a dispatch shows of its webhook.
type WebhookSummary struct {
	ActionType string           `json:"actionType"`
	Condition  WebhookCondition `json:"condition"`
	RequestURL string           `json:"requestUrl"`
	IsAdHoc    bool             `json:"isAdHoc"`
}

// WebhookRequest is the HTTP request a dispatch sends, rendered when the
// event happened.
type WebhookRequest struct {
	URL             string            `json:"url"`
	Payload         []byte            `json:"payload"`
	Headers         map[string]string `json:"headers,omitempty"`
	IgnoreSslErrors bool              `json:"ignoreSslErrors,omitempty"`
	DoNotRetry      bool              `json:"doNotRetry,omitempty"`
}

// WebhookDispatch is one event to deliver to one webhook, and the calls
// made so far. Status is ACTIVE until a call succeeds (SUCCEEDED) or the
// attempts run out (FAILED).
type WebhookDispatch struct {
	ID        string         `json:"id"`
	UserID    string         `json:"userId"`
	WebhookID string         `json:"webhookId"`
	CreatedAt time.Time      `json:"createdAt"`
	Status    string         `json:"status"`
	EventType string         `json:"eventType"`
	EventData map[string]any `json:"eventData"`
	Calls     []WebhookCall  `json:"calls"`
	Webhook   WebhookSummary `json:"webhook"`

	Request WebhookRequest `json:"-"`
	// Claim numbers the claims of the dispatch; a call's result is kept
	// only by the claim that made it (ClaimDispatches).
	Claim int64 `json:"-"`
}

// NewDispatch returns the ACTIVE dispatch of ev to w, its request rendered.
// A template that does not render gives a FAILED dispatch whose one call
// says why.
func NewDispatch(w *Webhook, ev WebhookEvent) *WebhookDispatch {
	d := &WebhookDispatch{ID: NewID(), UserID: w.UserID, WebhookID: w.ID, CreatedAt: ev.CreatedAt,
		Status: DispatchActive, EventType: ev.Type, EventData: ev.Data, Calls: []WebhookCall{},
		Webhook: WebhookSummary{ActionType: WebhookActionHTTP, Condition: w.Condition,
			RequestURL: w.RequestURL, IsAdHoc: w.IsAdHoc}}
	payload, headers, err := w.Render(ev)
	if err != nil {
		msg := err.Error()
		at := ev.CreatedAt
		d.Status = DispatchFailed
		d.Calls = append(d.Calls, WebhookCall{StartedAt: at, FinishedAt: &at, ErrorMessage: &msg})
	}
	d.Request = WebhookRequest{URL: w.RequestURL, Payload: payload, Headers: headers,
		IgnoreSslErrors: w.IgnoreSslErrors, DoNotRetry: w.DoNotRetry}
	return d
}

// WebhookDispatchKey is the change key (Store.Watch) announced when a
// dispatch is enqueued or rescheduled.
const WebhookDispatchKey = "webhook-dispatches"

// WebhookFilter selects webhooks for a list; zero fields do not filter.
type WebhookFilter struct {
	ListOptions
	ActorID     string
	ActorTaskID string
	ActorRunID  string
}

// WebhookStore keeps webhooks and their dispatches (the outbox). Run and
// build changes enqueue dispatches in the transaction that makes them
// (CreateRun, UpdateRun, CreateBuild, UpdateBuild), for every webhook whose
// condition and event types match; ad-hoc webhooks in Run.AdHocWebhooks are
// stored by CreateRun in the run's transaction.
type WebhookStore interface {
	// CreateWebhook stores w. When w has an idempotency key that a webhook
	// of the same user already has, that webhook is returned instead and
	// created is false.
	CreateWebhook(ctx context.Context, w *Webhook) (got *Webhook, created bool, err error)
	// GetWebhook returns a webhook with its stats and last dispatch.
	// record-not-found.
	GetWebhook(ctx context.Context, id string) (*Webhook, error)
	// ListWebhooks lists webhooks by createdAt; it returns the page and the
	// total.
	ListWebhooks(ctx context.Context, f WebhookFilter) ([]*Webhook, int, error)
	// UpdateWebhook changes a webhook in one transaction. record-not-found.
	UpdateWebhook(ctx context.Context, id string, fn func(w *Webhook) error) (*Webhook, error)
	// DeleteWebhook deletes a webhook; its dispatches are kept, and those
	// not yet delivered are still delivered. record-not-found.
	DeleteWebhook(ctx context.Context, id string) error
	// TestWebhook enqueues a TEST dispatch of the webhook, resource the
	// example resource (a *Run gives eventData its ids). record-not-found.
	TestWebhook(ctx context.Context, id string, resource any) (*WebhookDispatch, error)
	// GetDispatch returns a dispatch. record-not-found.
	GetDispatch(ctx context.Context, id string) (*WebhookDispatch, error)
	// ListDispatches lists dispatches (of one webhook when webhookID is not
	// empty) by createdAt; it returns the page and the total.
	ListDispatches(ctx context.Context, webhookID string, o ListOptions) ([]*WebhookDispatch, int, error)
	// ClaimDispatches takes up to max ACTIVE dispatches due at the store's
	// clock reading for owner, for lease: until then no other claim takes
	// them, and after it they are due again (the owner died). Each claim
	// bumps the dispatch's Claim.
	ClaimDispatches(ctx context.Context, owner string, lease time.Duration, max int) ([]*WebhookDispatch, error)
	// FinishCall records a call of a claimed dispatch d (d.Claim as
	// claimed): status SUCCEEDED or FAILED ends the dispatch; ACTIVE makes
	// it due again at retryAt. conflict when the claim was lost (the lease
	// ran out and another claim took the dispatch).
	FinishCall(ctx context.Context, d *WebhookDispatch, call WebhookCall, status string, retryAt time.Time) error
	// NextDispatchAt returns when the earliest ACTIVE dispatch is due (a
	// claimed one when its lease ends); ok is false when there is none.
	NextDispatchAt(ctx context.Context) (at time.Time, ok bool, err error)
}

// ParseAdHocWebhooks decodes the webhooks run option (base64 of a JSON
// array of webhook descriptions) into ad-hoc webhooks of the run, not yet
// stored. invalid-parameter.
func ParseAdHocWebhooks(b64, userID string, runID string, now time.Time) ([]*Webhook, error) {
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		if raw, err = base64.URLEncoding.DecodeString(b64); err != nil {
			return nil, Errorf(ErrInvalidParameter, "Parameter webhooks must be Base64-encoded JSON.")
		}
	}
	var list []WebhookFields
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, Errorf(ErrInvalidParameter, "Parameter webhooks must be a Base64-encoded JSON array of webhooks.")
	}
	if len(list) > MaxWebhooksPerRequest {
		return nil, Errorf(ErrInvalidParameter, "Parameter webhooks may hold at most %d webhooks.", MaxWebhooksPerRequest)
	}
	out := make([]*Webhook, 0, len(list))
	for i := range list {
		f := &list[i]
		t := true
		f.IsAdHoc = &t
		f.Condition = &WebhookCondition{ActorRunID: &runID}
		w, err := NewWebhook(f, userID, now)
		if err != nil {
			return nil, Errorf(ErrInvalidParameter, "Parameter webhooks, item %d: %s", i, err.Error())
		}
		out = append(out, w)
	}
	return out, nil
}

// WebhookRetry is the delivery schedule of dispatches: after the failed
// call number n (1-based) the next comes after Base·2^(n-1), capped at Max,
// times a random factor in [0.75, 1.25) (jitter); after Attempts calls the
// dispatch fails.
type WebhookRetry struct {
	Base     time.Duration
	Max      time.Duration
	Attempts int
}

// DefaultWebhookRetry retries for about 12 hours: 13 calls, 1 min, 2, 4, …
// up to 2 h apart (jittered), 727 min on average from the first call to the
// last.
var DefaultWebhookRetry = WebhookRetry{Base: time.Minute, Max: 2 * time.Hour, Attempts: 13}

// Delay is how long to wait after the failed call number n.
func (r WebhookRetry) Delay(n int) time.Duration {
	d := r.Base
	for i := 1; i < n && d < r.Max; i++ {
		d *= 2
	}
	d = min(d, r.Max)
	return time.Duration(float64(d) * (0.75 + rand.Float64()/2))
}

// Render returns the request body and headers w sends for ev: its
// templates with every {{variable}} replaced by the variable's JSON value
// (see the README for the variables). invalid templates give an error.
func (w *Webhook) Render(ev WebhookEvent) (payload []byte, headers map[string]string, err error) {
	vars, err := templateVars(ev)
	if err != nil {
		return nil, nil, err
	}
	tpl := w.PayloadTemplate
	if tpl == "" {
		tpl = DefaultPayloadTemplate
	}
	out, err := renderTemplate(tpl, vars, w.ShouldInterpolateStrings)
	if err != nil {
		return nil, nil, fmt.Errorf("payloadTemplate: %w", err)
	}
	if w.HeadersTemplate != nil && strings.TrimSpace(*w.HeadersTemplate) != "" {
		h, err := renderTemplate(*w.HeadersTemplate, vars, w.ShouldInterpolateStrings)
		if err != nil {
			return nil, nil, fmt.Errorf("headersTemplate: %w", err)
		}
		var m map[string]any
		if err := json.Unmarshal(h, &m); err != nil {
			return nil, nil, fmt.Errorf("headersTemplate must render a JSON object")
		}
		headers = map[string]string{}
		for k, v := range m {
			if s, ok := v.(string); ok {
				headers[k] = s
			} else {
				b, _ := json.Marshal(v)
				headers[k] = string(b)
			}
		}
	}
	return out, headers, nil
}

// templateVars are the variables of ev's templates, as generic JSON values.
func templateVars(ev WebhookEvent) (map[string]any, error) {
	res, err := json.Marshal(ev.Resource)
	if err != nil {
		return nil, err
	}
	// Kept as text, so {{resource}} keeps the object's field order.
	resource := json.RawMessage(res)
	data := map[string]any{}
	for k, v := range ev.Data {
		data[k] = v
	}
	at := ev.CreatedAt.UTC().Format("2006-01-02T15:04:05.000Z")
	return map[string]any{
		"userId":    ev.UserID,
		"createdAt": at,
		"eventType": ev.Type,
		"eventData": data,
		"resource":  resource,
		"globals":   map[string]any{"dateISO": at, "dateUnix": ev.CreatedAt.UnixMilli()},
	}, nil
}

// lookup resolves a dotted variable path (resource.defaultDatasetId).
func lookup(vars map[string]any, path string) (any, bool) {
	var cur any = vars
	for _, part := range strings.Split(path, ".") {
		if raw, isRaw := cur.(json.RawMessage); isRaw {
			cur = nil
			_ = json.Unmarshal(raw, &cur)
		}
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[part]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// renderTemplate replaces the {{path}} variables of a JSON template: outside
// JSON strings by the value's JSON, inside them (when interpolate is set) by
// the value's text. The result must be valid JSON.
func renderTemplate(tpl string, vars map[string]any, interpolate bool) ([]byte, error) {
	var b strings.Builder
	inString, escaped := false, false
	for i := 0; i < len(tpl); {
		c := tpl[i]
		if inString {
			if escaped {
				escaped = false
			} else if c == '\\' {
				escaped = true
			} else if c == '"' {
				inString = false
			}
		} else if c == '"' {
			inString = true
		}
		if c == '{' && strings.HasPrefix(tpl[i:], "{{") && (!inString || interpolate) {
			end := strings.Index(tpl[i+2:], "}}")
			if end >= 0 {
				name := strings.TrimSpace(tpl[i+2 : i+2+end])
				top, _, _ := strings.Cut(name, ".")
				if _, known := vars[top]; !known && !inString {
					return nil, fmt.Errorf("unknown variable {{%s}}", name)
				}
				v, ok := lookup(vars, name)
				if !ok && !inString {
					v, ok = nil, true // a field the resource lacks is null
				}
				if ok {
					j, _ := json.Marshal(v)
					if inString {
						if s, isStr := v.(string); isStr {
							j, _ = json.Marshal(s)
						} else {
							j, _ = json.Marshal(string(j))
						}
						j = j[1 : len(j)-1]
					}
					b.Write(j)
					i += 2 + end + 2
					continue
				}
			}
		}
		b.WriteByte(c)
		i++
	}
	out := []byte(b.String())
	if !json.Valid(out) {
		return nil, fmt.Errorf("the template does not render valid JSON")
	}
	return out, nil
}
