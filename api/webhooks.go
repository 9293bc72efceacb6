package api

import (
	"net/http"

	"github.com/troupehq/troupe"
)

// routeWebhooks registers the webhook and webhook dispatch routes.
func (s *Server) routeWebhooks() {
	s.handle("GET /v2/webhooks", s.listWebhooks)
	// A limited run may add ad-hoc webhooks of its own run
	// (Actor.addWebhook); createWebhook checks that.
	s.handleGuarded("POST /v2/webhooks", allowLimited, s.createWebhook)
	s.handle("GET /v2/webhooks/{webhookId}", s.getWebhook)
	s.handle("PUT /v2/webhooks/{webhookId}", s.updateWebhook)
	s.handle("DELETE /v2/webhooks/{webhookId}", s.deleteWebhook)
	s.handle("POST /v2/webhooks/{webhookId}/test", s.testWebhook)
	s.handle("GET /v2/webhooks/{webhookId}/dispatches", s.listDispatches)
	s.handle("GET /v2/webhook-dispatches", s.listDispatches)
	s.handle("GET /v2/webhook-dispatches/{dispatchId}", s.getDispatch)
	for _, p := range actorPrefixes {
		s.handle("GET "+p+"/{actorId}/webhooks", s.listActorWebhooks)
	}
}

func (s *Server) listWebhooks(w http.ResponseWriter, r *http.Request) error {
	return s.writeWebhooks(w, r, "")
}

func (s *Server) listActorWebhooks(w http.ResponseWriter, r *http.Request) error {
	a, err := s.pathActor(r)
	if err != nil {
		return err
	}
	return s.writeWebhooks(w, r, a.ID)
}

func (s *Server) writeWebhooks(w http.ResponseWriter, r *http.Request, actorID string) error {
	o, err := queryOf(r).listOptions()
	if err != nil {
		return err
	}
	list, total, err := s.store.ListWebhooks(r.Context(), troupe.WebhookFilter{ListOptions: o, ActorID: actorID})
	if err != nil {
		return err
	}
	writeData(w, http.StatusOK, newPage(o, total, list))
	return nil
}

// createWebhook stores a webhook; one with the idempotency key of an
// existing webhook answers that webhook. A limited run may only add an
// ad-hoc webhook whose condition is its own run.
func (s *Server) createWebhook(w http.ResponseWriter, r *http.Request) error {
	var f troupe.WebhookFields
	if err := decodeJSON(r, &f); err != nil {
		return err
	}
	ctx := r.Context()
	c := callerFrom(ctx)
	if c.limited() {
		own := f.Condition != nil && f.Condition.ActorRunID != nil && *f.Condition.ActorRunID == c.run.ID &&
			f.Condition.ActorID == nil && f.Condition.ActorTaskID == nil
		if !own {
			return errNotOwnWebhook(c)
		}
		t := true
		f.IsAdHoc = &t
		_, n, err := s.store.ListWebhooks(ctx, troupe.WebhookFilter{ActorRunID: c.run.ID, ListOptions: troupe.ListOptions{Limit: 1}})
		if err != nil {
			return err
		}
		if n >= troupe.MaxWebhooksPerRun {
			return troupe.Errorf(troupe.ErrInvalidInput, "Run %s already has %d webhooks, the most a run may add.", c.run.ID, n)
		}
	}
	hook, err := troupe.NewWebhook(&f, s.cfg.UserID, s.now())
	if err != nil {
		return err
	}
	got, _, err := s.store.CreateWebhook(ctx, hook)
	if err != nil {
		return err
	}
	// An idempotency key another run used gives a limited run nothing.
	if c.limited() && (got.Condition.ActorRunID == nil || *got.Condition.ActorRunID != c.run.ID) {
		return errNotOwnWebhook(c)
	}
	w.Header().Set("Location", absURL(r, "/v2/webhooks/"+got.ID))
	writeData(w, http.StatusCreated, got)
	return nil
}

func (s *Server) getWebhook(w http.ResponseWriter, r *http.Request) error {
	hook, err := s.store.GetWebhook(r.Context(), r.PathValue("webhookId"))
	if err != nil {
		return err
	}
	writeData(w, http.StatusOK, hook)
	return nil
}

func (s *Server) updateWebhook(w http.ResponseWriter, r *http.Request) error {
	var f troupe.WebhookFields
	if err := decodeJSON(r, &f); err != nil {
		return err
	}
	hook, err := s.store.UpdateWebhook(r.Context(), r.PathValue("webhookId"), f.Apply)
	if err != nil {
		return err
	}
	writeData(w, http.StatusOK, hook)
	return nil
}

func (s *Server) deleteWebhook(w http.ResponseWriter, r *http.Request) error {
	if err := s.store.DeleteWebhook(r.Context(), r.PathValue("webhookId")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// testWebhook enqueues a TEST dispatch; its resource is the latest run of
// the webhook's actor or run when there is one, else an empty object.
func (s *Server) testWebhook(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	hook, err := s.store.GetWebhook(ctx, r.PathValue("webhookId"))
	if err != nil {
		return err
	}
	var resource any = map[string]any{}
	c := hook.Condition
	switch {
	case c.ActorRunID != nil:
		if run, err := s.store.GetRun(ctx, *c.ActorRunID); err == nil {
			resource = run
		}
	case c.ActorID != nil:
		if run, err := s.store.LastRun(ctx, *c.ActorID, ""); err == nil {
			resource = run
		}
	}
	d, err := s.store.TestWebhook(ctx, hook.ID, resource)
	if err != nil {
		return err
	}
	writeData(w, http.StatusCreated, d)
	return nil
}

func (s *Server) listDispatches(w http.ResponseWriter, r *http.Request) error {
	o, err := queryOf(r).listOptions()
	if err != nil {
		return err
	}
	id := r.PathValue("webhookId")
	if id != "" {
		if _, err := s.store.GetWebhook(r.Context(), id); err != nil {
			return err
		}
	}
	list, total, err := s.store.ListDispatches(r.Context(), id, o)
	if err != nil {
		return err
	}
	writeData(w, http.StatusOK, newPage(o, total, list))
	return nil
}

func (s *Server) getDispatch(w http.ResponseWriter, r *http.Request) error {
	d, err := s.store.GetDispatch(r.Context(), r.PathValue("dispatchId"))
	if err != nil {
		return err
	}
	writeData(w, http.StatusOK, d)
	return nil
}

func errNotOwnWebhook(c caller) error {
	return troupe.Errorf(troupe.ErrInsufficientPermissions,
		"Run %s has limited permissions (LIMITED_PERMISSIONS): it may only add webhooks of its own run.", c.run.ID)
}
