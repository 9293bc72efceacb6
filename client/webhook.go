package client

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"time"
)

// Webhook event types.
const (
	EventRunCreated     = "ACTOR.RUN.CREATED"
	EventRunSucceeded   = "ACTOR.RUN.SUCCEEDED"
	EventRunFailed      = "ACTOR.RUN.FAILED"
	EventRunAborted     = "ACTOR.RUN.ABORTED"
	EventRunTimedOut    = "ACTOR.RUN.TIMED_OUT"
	EventRunResurrected = "ACTOR.RUN.RESURRECTED"
	EventBuildCreated   = "ACTOR.BUILD.CREATED"
	EventBuildSucceeded = "ACTOR.BUILD.SUCCEEDED"
	EventBuildFailed    = "ACTOR.BUILD.FAILED"
	EventBuildAborted   = "ACTOR.BUILD.ABORTED"
	EventBuildTimedOut  = "ACTOR.BUILD.TIMED_OUT"
)

// WebhookCondition names what a webhook follows: one actor, task or run.
type WebhookCondition struct {
	ActorID     string `json:"actorId,omitempty"`
	ActorTaskID string `json:"actorTaskId,omitempty"`
	ActorRunID  string `json:"actorRunId,omitempty"`
}

// Webhook is a webhook as the server shows it.
type Webhook struct {
	ID                       string           `json:"id"`
	CreatedAt                time.Time        `json:"createdAt"`
	ModifiedAt               time.Time        `json:"modifiedAt"`
	UserID                   string           `json:"userId"`
	IsAdHoc                  bool             `json:"isAdHoc"`
	EventTypes               []string         `json:"eventTypes"`
	Condition                WebhookCondition `json:"condition"`
	RequestURL               string           `json:"requestUrl"`
	PayloadTemplate          string           `json:"payloadTemplate"`
	HeadersTemplate          *string          `json:"headersTemplate"`
	Description              *string          `json:"description"`
	ShouldInterpolateStrings bool             `json:"shouldInterpolateStrings"`
	IgnoreSslErrors          bool             `json:"ignoreSslErrors"`
	DoNotRetry               bool             `json:"doNotRetry"`
	LastDispatch             *struct {
		Status     string     `json:"status"`
		FinishedAt *time.Time `json:"finishedAt"`
	} `json:"lastDispatch"`
	Stats struct {
		TotalDispatches int `json:"totalDispatches"`
	} `json:"stats"`
}

// WebhookFields describe a webhook to create or the fields to change;
// zero fields are not sent (on update: left as they are).
type WebhookFields struct {
	EventTypes               []string          `json:"eventTypes,omitempty"`
	Condition                *WebhookCondition `json:"condition,omitempty"`
	RequestURL               string            `json:"requestUrl,omitempty"`
	PayloadTemplate          string            `json:"payloadTemplate,omitempty"`
	HeadersTemplate          string            `json:"headersTemplate,omitempty"`
	Description              string            `json:"description,omitempty"`
	IdempotencyKey           string            `json:"idempotencyKey,omitempty"`
	IsAdHoc                  *bool             `json:"isAdHoc,omitempty"`
	ShouldInterpolateStrings *bool             `json:"shouldInterpolateStrings,omitempty"`
	IgnoreSslErrors          *bool             `json:"ignoreSslErrors,omitempty"`
	DoNotRetry               *bool             `json:"doNotRetry,omitempty"`
}

// WebhookCall is one attempt to deliver a dispatch.
type WebhookCall struct {
	StartedAt      time.Time  `json:"startedAt"`
	FinishedAt     *time.Time `json:"finishedAt"`
	ErrorMessage   *string    `json:"errorMessage"`
	ResponseStatus *int       `json:"responseStatus"`
	ResponseBody   *string    `json:"responseBody"`
}

// WebhookDispatch is one event sent (or being sent) to one webhook. Status
// is ACTIVE, SUCCEEDED or FAILED.
type WebhookDispatch struct {
	ID        string         `json:"id"`
	UserID    string         `json:"userId"`
	WebhookID string         `json:"webhookId"`
	CreatedAt time.Time      `json:"createdAt"`
	Status    string         `json:"status"`
	EventType string         `json:"eventType"`
	EventData map[string]any `json:"eventData"`
	Calls     []WebhookCall  `json:"calls"`
}

// WebhookList is a page of webhooks; WebhookDispatchList of dispatches.
type (
	WebhookList         = Page[*Webhook]
	WebhookDispatchList = Page[*WebhookDispatch]
)

// WebhookCollectionClient lists and creates webhooks: /v2/webhooks, or an
// actor's webhooks ([ActorClient.Webhooks], list only).
type WebhookCollectionClient struct{ r resource }

// Webhooks returns the client of all webhooks.
func (c *Client) Webhooks() *WebhookCollectionClient {
	return &WebhookCollectionClient{r: resource{c: c, path: "/webhooks"}}
}

// Webhooks returns the client of the actor's webhooks.
func (a *ActorClient) Webhooks() *WebhookCollectionClient {
	return &WebhookCollectionClient{r: a.r.sub("webhooks")}
}

// List returns a page of webhooks ordered by createdAt.
func (wc *WebhookCollectionClient) List(ctx context.Context, opts *ListOptions) (*WebhookList, error) {
	return fetch[WebhookList](ctx, wc.r, http.MethodGet, opts.values(), nil)
}

// Create creates a webhook; with the IdempotencyKey of an existing one, it
// returns that one.
func (wc *WebhookCollectionClient) Create(ctx context.Context, f *WebhookFields) (*Webhook, error) {
	return fetch[Webhook](ctx, wc.r, http.MethodPost, nil, f)
}

// WebhookClient manages one webhook: /v2/webhooks/{id}.
type WebhookClient struct{ r resource }

// Webhook returns the client of the webhook with this id.
func (c *Client) Webhook(id string) *WebhookClient {
	return &WebhookClient{r: resource{c: c, path: "/webhooks"}.sub(id)}
}

// Get returns the webhook, or nil and no error when there is none.
func (w *WebhookClient) Get(ctx context.Context) (*Webhook, error) {
	return get[Webhook](ctx, w.r, nil)
}

// Update changes the fields f sets.
func (w *WebhookClient) Update(ctx context.Context, f *WebhookFields) (*Webhook, error) {
	return fetch[Webhook](ctx, w.r, http.MethodPut, nil, f)
}

// Delete deletes the webhook; one that does not exist is not an error.
func (w *WebhookClient) Delete(ctx context.Context) error { return remove(ctx, w.r) }

// Test sends a TEST event to the webhook and returns its dispatch.
func (w *WebhookClient) Test(ctx context.Context) (*WebhookDispatch, error) {
	return fetch[WebhookDispatch](ctx, w.r.sub("test"), http.MethodPost, nil, nil)
}

// Dispatches returns a page of the webhook's dispatches.
func (w *WebhookClient) Dispatches(ctx context.Context, opts *ListOptions) (*WebhookDispatchList, error) {
	return fetch[WebhookDispatchList](ctx, w.r.sub("dispatches"), http.MethodGet, opts.values(), nil)
}

// WebhookDispatches returns a page of all webhook dispatches.
func (c *Client) WebhookDispatches(ctx context.Context, opts *ListOptions) (*WebhookDispatchList, error) {
	return fetch[WebhookDispatchList](ctx, resource{c: c, path: "/webhook-dispatches"}, http.MethodGet, opts.values(), nil)
}

// WebhookDispatch returns a dispatch, or nil and no error when there is
// none.
func (c *Client) WebhookDispatch(ctx context.Context, id string) (*WebhookDispatch, error) {
	return get[WebhookDispatch](ctx, resource{c: c, path: "/webhook-dispatches"}.sub(id), nil)
}

// AdHocWebhooks encodes webhooks as the webhooks run option
// ([StartOptions.Webhooks]); each follows only the run it starts with.
func AdHocWebhooks(hooks []WebhookFields) (string, error) {
	b, err := json.Marshal(hooks)
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(b), nil
}
