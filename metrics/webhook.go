package metrics

import (
	"context"
	"time"

	"github.com/troupehq/troupe"
)

// webhookOutcome is the outcome label of a webhook call: the status its
// dispatch has after it, RETRY for a dispatch that will be called again.
func webhookOutcome(status string) string {
	if status == troupe.DispatchActive {
		return "RETRY"
	}
	return status
}

// FinishCall counts the webhook call it records (troupe_webhook_calls_total
// and troupe_webhook_call_duration_seconds) once it is written.
func (s *store) FinishCall(ctx context.Context, d *troupe.WebhookDispatch, call troupe.WebhookCall, status string, retryAt time.Time) error {
	t := time.Now()
	err := s.Store.FinishCall(ctx, d, call, status, retryAt)
	s.done("FinishCall", t, err)
	if err == nil {
		s.m.webhookCalls.WithLabelValues(webhookOutcome(status)).Inc()
		if call.FinishedAt != nil {
			s.m.webhookCallDuration.Observe(max(call.FinishedAt.Sub(call.StartedAt), 0).Seconds())
		}
	}
	return err
}

func (s *store) UpdateWebhook(ctx context.Context, id string, fn func(w *troupe.Webhook) error) (*troupe.Webhook, error) {
	var fnErr error
	t := time.Now()
	w, err := s.Store.UpdateWebhook(ctx, id, func(w *troupe.Webhook) error {
		fnErr = fn(w)
		return fnErr
	})
	s.doneFn("UpdateWebhook", time.Since(t), err, fnErr)
	return w, err
}

func (s *store) CreateWebhook(ctx context.Context, w *troupe.Webhook) (*troupe.Webhook, bool, error) {
	t := time.Now()
	v0, v1, err := s.Store.CreateWebhook(ctx, w)
	s.done("CreateWebhook", t, err)
	return v0, v1, err
}

func (s *store) GetWebhook(ctx context.Context, id string) (*troupe.Webhook, error) {
	t := time.Now()
	v0, err := s.Store.GetWebhook(ctx, id)
	s.done("GetWebhook", t, err)
	return v0, err
}

func (s *store) ListWebhooks(ctx context.Context, f troupe.WebhookFilter) ([]*troupe.Webhook, int, error) {
	t := time.Now()
	v0, v1, err := s.Store.ListWebhooks(ctx, f)
	s.done("ListWebhooks", t, err)
	return v0, v1, err
}

func (s *store) DeleteWebhook(ctx context.Context, id string) error {
	t := time.Now()
	err := s.Store.DeleteWebhook(ctx, id)
	s.done("DeleteWebhook", t, err)
	return err
}

func (s *store) TestWebhook(ctx context.Context, id string, resource any) (*troupe.WebhookDispatch, error) {
	t := time.Now()
	v0, err := s.Store.TestWebhook(ctx, id, resource)
	s.done("TestWebhook", t, err)
	return v0, err
}

func (s *store) GetDispatch(ctx context.Context, id string) (*troupe.WebhookDispatch, error) {
	t := time.Now()
	v0, err := s.Store.GetDispatch(ctx, id)
	s.done("GetDispatch", t, err)
	return v0, err
}

func (s *store) ListDispatches(ctx context.Context, webhookID string, o troupe.ListOptions) ([]*troupe.WebhookDispatch, int, error) {
	t := time.Now()
	v0, v1, err := s.Store.ListDispatches(ctx, webhookID, o)
	s.done("ListDispatches", t, err)
	return v0, v1, err
}

func (s *store) ClaimDispatches(ctx context.Context, owner string, lease time.Duration, max int) ([]*troupe.WebhookDispatch, error) {
	t := time.Now()
	v0, err := s.Store.ClaimDispatches(ctx, owner, lease, max)
	s.done("ClaimDispatches", t, err)
	return v0, err
}

func (s *store) NextDispatchAt(ctx context.Context) (time.Time, bool, error) {
	t := time.Now()
	v0, v1, err := s.Store.NextDispatchAt(ctx)
	s.done("NextDispatchAt", t, err)
	return v0, v1, err
}
