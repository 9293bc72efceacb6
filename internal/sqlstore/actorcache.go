package sqlstore

import (
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"sync"

	"github.com/troupehq/troupe"
)

// actorCache keeps actors decoded from their stored JSON, keyed by id with
// the version of the row they were decoded from. An actor's JSON holds its
// versions' source files, often megabytes (a built program shipped as
// BASE64), and every run start reads the actor twice (the API, the
// controller): with the version in hand a reader skips the JSON entirely.
// Every write of an actor gives its row a new version (newActorVersion), so
// a kept actor is never returned after its row changed, on any replica. A
// hit returns a deep copy, so callers may change what they get. The cache
// holds actors decoded from at most actorCacheBytes of JSON; past that it
// starts over.
type actorCache struct {
	mu    sync.Mutex
	byID  map[string]actorEntry
	bytes int
}

type actorEntry struct {
	version int64
	size    int // of the JSON the actor was decoded from
	actor   *troupe.Actor
}

// actorCacheBytes bounds the JSON the actor cache keeps actors of.
const actorCacheBytes = 64 << 20

// newActorVersion returns the version an actor's row gets at a write: a
// random number, so that a row deleted and created again with the same id
// does not come back with a version a cache still holds.
func newActorVersion() int64 { return rand.Int64() }

// get returns a copy of the actor kept for this id and version, or nil.
func (c *actorCache) get(id string, version int64) *troupe.Actor {
	c.mu.Lock()
	e, ok := c.byID[id]
	c.mu.Unlock()
	if !ok || e.version != version {
		return nil
	}
	return cloneActor(e.actor)
}

// decode returns the actor data encodes, which is the row id at version:
// from the cache when that version was decoded before.
func (c *actorCache) decode(id string, version int64, data []byte) (*troupe.Actor, error) {
	if a := c.get(id, version); a != nil {
		return a, nil
	}
	a := new(troupe.Actor)
	if err := json.Unmarshal(data, a); err != nil {
		return nil, fmt.Errorf("decode actor: %w", err)
	}
	if id != a.ID || len(data) > actorCacheBytes/4 {
		return a, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byID == nil || c.bytes+len(data) > actorCacheBytes {
		c.byID, c.bytes = map[string]actorEntry{}, 0
	}
	if old, ok := c.byID[id]; ok {
		c.bytes -= old.size
	}
	c.byID[id] = actorEntry{version: version, size: len(data), actor: cloneActor(a)}
	c.bytes += len(data)
	return a, nil
}

// cloneActor copies a deeply: nothing of the copy is shared with a except
// strings, which cannot change. TestCloneActorCoversEveryField fails when
// troupe.Actor gains a field of a reference type this does not copy.
func cloneActor(a *troupe.Actor) *troupe.Actor {
	c := *a
	c.Stats.LastRunStartedAt = clonePtr(a.Stats.LastRunStartedAt)
	if a.Versions != nil {
		c.Versions = make([]troupe.Version, len(a.Versions))
		for i, v := range a.Versions {
			v.EnvVars = slices.Clone(v.EnvVars)
			v.SourceFiles = slices.Clone(v.SourceFiles)
			c.Versions[i] = v
		}
	}
	c.DefaultRunOptions.MaxItems = clonePtr(a.DefaultRunOptions.MaxItems)
	c.DefaultRunOptions.ForcePermissionLevel = clonePtr(a.DefaultRunOptions.ForcePermissionLevel)
	if a.TaggedBuilds != nil {
		c.TaggedBuilds = maps.Clone(a.TaggedBuilds)
		for tag, tb := range c.TaggedBuilds {
			if tb != nil {
				t := *tb
				t.FinishedAt = clonePtr(tb.FinishedAt)
				c.TaggedBuilds[tag] = &t
			}
		}
	}
	c.ExampleRunInput = clonePtr(a.ExampleRunInput)
	return &c
}

func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}
