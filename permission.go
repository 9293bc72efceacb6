package troupe

import (
	"bytes"
	"encoding/json"
	"slices"
)

// Permission levels of actors and runs (actorPermissionLevel,
// forcePermissionLevel). A run's token reaches what its level allows: a
// limited run only its own run, its storages and the actors it starts; a
// full-permission run everything the account owns.
const (
	PermissionsLimited = "LIMITED_PERMISSIONS"
	PermissionsFull    = "FULL_PERMISSIONS"
)

// ValidPermissionLevel reports whether s is one of the two levels.
func ValidPermissionLevel(s string) bool { return s == PermissionsLimited || s == PermissionsFull }

// PermissionLevel is the actor's level, LIMITED_PERMISSIONS unless it was set
// to FULL_PERMISSIONS.
func (a *Actor) PermissionLevel() string {
	if a.ActorPermissionLevel == PermissionsFull {
		return PermissionsFull
	}
	return PermissionsLimited
}

// PermissionLevel is the level the run's token has: LIMITED_PERMISSIONS
// unless the run was started with FULL_PERMISSIONS.
func (r *Run) PermissionLevel() string {
	if r.Control.PermissionLevel == PermissionsFull {
		return PermissionsFull
	}
	return PermissionsLimited
}

// runPermissionLevel is the level of a new run of actor a: forced, else the
// actor's default run options, else the actor's own level; always limited
// when the run is started by a limited run.
func runPermissionLevel(a *Actor, forced string, startedBy *Run) string {
	level := a.PermissionLevel()
	if f := a.DefaultRunOptions.ForcePermissionLevel; f != nil && ValidPermissionLevel(*f) {
		level = *f
	}
	if forced != "" {
		level = forced
	}
	if startedBy != nil && startedBy.PermissionLevel() != PermissionsFull {
		level = PermissionsLimited
	}
	return level
}

// Input references: the strings of a run's JSON input that may name a
// storage (an id, a name, or "username~name"), kept so that a limited run
// reaches the storages its input passes to it.
const (
	maxInputRefs   = 64
	maxInputRefLen = 100
)

// InputRefs returns the distinct strings of a JSON input that could name a
// storage, in the order met, at most 64 of at most 100 characters each
// (object keys are not values and are skipped). Anything else (not JSON,
// other strings) gives none. The input is read as a stream of tokens, so a
// large input costs no more memory than its longest string.
func InputRefs(rec *Record) []string {
	if rec == nil || !IsJSONContentType(rec.ContentType) {
		return nil
	}
	type frame struct{ object, wantKey bool }
	var stack []frame
	var refs []string
	dec := json.NewDecoder(bytes.NewReader(rec.Value))
	for len(refs) < maxInputRefs {
		tok, err := dec.Token()
		if err != nil {
			break
		}
		if d, ok := tok.(json.Delim); ok && (d == '}' || d == ']') {
			stack = stack[:len(stack)-1]
			continue
		}
		if n := len(stack); n > 0 && stack[n-1].object {
			if stack[n-1].wantKey {
				stack[n-1].wantKey = false
				continue
			}
			stack[n-1].wantKey = true
		}
		switch v := tok.(type) {
		case json.Delim:
			stack = append(stack, frame{object: v == '{', wantKey: v == '{'})
		case string:
			if storageRefLike(v) && !slices.Contains(refs, v) {
				refs = append(refs, v)
			}
		}
	}
	return refs
}

// storageRefLike reports whether s could be a storage id, name or
// "username~name" / "username/name".
func storageRefLike(s string) bool {
	if s == "" || len(s) > maxInputRefLen {
		return false
	}
	for _, c := range s {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '-' || c == '_' || c == '.' || c == '~' || c == '/':
		default:
			return false
		}
	}
	return true
}

// NamesStorage reports whether the input reference ref names st: its id,
// its name, or username~name (username/name) for the account's username.
func NamesStorage(ref string, st *Storage, username string) bool {
	if ref == st.ID {
		return true
	}
	if st.Name == nil {
		return false
	}
	name := *st.Name
	return ref == name || ref == username+"~"+name || ref == username+"/"+name || ref == "~"+name
}
