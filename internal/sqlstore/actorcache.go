package sqlstore

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/troupehq/troupe"
)

// actorCache keeps actors decoded from their stored JSON, keyed by id with
// the exact bytes they were decoded from. An actor's JSON holds its
// versions' source files, often megabytes (a built program shipped as
// BASE64), and every run start reads the actor twice (the API, the
// controller): comparing the bytes read with the kept ones costs a small
// fraction of decoding them again. A hit returns a deep copy, so callers
// may change what they get. The cache holds at most actorCacheBytes of
// JSON; past that it starts over.
type actorCache struct {
	mu    sync.Mutex
	byID  map[string]actorEntry
	bytes int
}

type actorEntry struct {
	data  []byte
	actor *troupe.Actor
}

// actorCacheBytes bounds the JSON the actor cache keeps.
const actorCacheBytes = 64 << 20

// decode returns the actor data encodes, from the cache when the same
// bytes were decoded before.
func (c *actorCache) decode(data []byte) (*troupe.Actor, error) {
	// The id is the first field json.Marshal writes for an actor; reading
	// it with a decoder stops early instead of scanning the whole text.
	dec := json.NewDecoder(bytes.NewReader(data))
	id := ""
	if tok, err := dec.Token(); err == nil && tok == json.Delim('{') {
		if name, err := dec.Token(); err == nil && name == "id" {
			if v, err := dec.Token(); err == nil {
				id, _ = v.(string)
			}
		}
	}
	if id != "" {
		c.mu.Lock()
		e, ok := c.byID[id]
		c.mu.Unlock()
		if ok && bytes.Equal(e.data, data) {
			return cloneActor(e.actor), nil
		}
	}
	a := new(troupe.Actor)
	if err := json.Unmarshal(data, a); err != nil {
		return nil, fmt.Errorf("decode actor: %w", err)
	}
	if id == "" || id != a.ID || len(data) > actorCacheBytes/4 {
		return a, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byID == nil || c.bytes+len(data) > actorCacheBytes {
		c.byID, c.bytes = map[string]actorEntry{}, 0
	}
	if old, ok := c.byID[id]; ok {
		c.bytes -= len(old.data)
	}
	c.byID[id] = actorEntry{data: bytes.Clone(data), actor: cloneActor(a)}
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
