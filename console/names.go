package console

import (
	"context"
	"sync"
	"time"

	"github.com/troupehq/troupe"
)

// ActorNamesTTL is how long the console reuses its list of actor names
// (for run rows and actor pickers) before it reads the actors again. An
// actor's versions can hold megabytes of source files, so reading every
// actor for each runs page would cost far more than the page itself.
const ActorNamesTTL = 10 * time.Second

// actorRef is an actor's id and name.
type actorRef struct {
	ID, Name string
}

type nameCache struct {
	mu   sync.Mutex
	at   time.Time
	list []actorRef
	byID map[string]string
}

// actorNames returns every actor's id and name (by creation time) and the
// names by id, read at most ActorNamesTTL ago.
func (c *Console) actorNames(ctx context.Context) ([]actorRef, map[string]string, error) {
	n := &c.names
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.byID != nil && c.now().Sub(n.at) < ActorNamesTTL {
		return n.list, n.byID, nil
	}
	actors, _, err := c.store.ListActors(ctx, troupe.ListOptions{Limit: 1000})
	if err != nil {
		return nil, nil, err
	}
	n.list = make([]actorRef, 0, len(actors))
	n.byID = make(map[string]string, len(actors))
	for _, a := range actors {
		n.list = append(n.list, actorRef{ID: a.ID, Name: a.Name})
		n.byID[a.ID] = a.Name
	}
	n.at = c.now()
	return n.list, n.byID, nil
}

// forgetActorNames makes the next actorNames read the actors again (after
// the console changed one).
func (c *Console) forgetActorNames() {
	c.names.mu.Lock()
	c.names.byID = nil
	c.names.mu.Unlock()
}
