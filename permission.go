package troupe

import (
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
// storage, in the order met, at most 64 of at most 100 characters each.
// Anything else (not JSON, other strings) gives none.
func InputRefs(rec *Record) []string {
	if rec == nil || !IsJSONContentType(rec.ContentType) {
		return nil
	}
	var v any
	if err := json.Unmarshal(rec.Value, &v); err != nil {
		return nil
	}
	var refs []string
	var walk func(v any)
	walk = func(v any) {
		if len(refs) >= maxInputRefs {
			return
		}
		switch x := v.(type) {
		case string:
			if storageRefLike(x) && !slices.Contains(refs, x) {
				refs = append(refs, x)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		case map[string]any:
			keys := make([]string, 0, len(x))
			for k := range x {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			for _, k := range keys {
				walk(x[k])
			}
		}
	}
	walk(v)
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
