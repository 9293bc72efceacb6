package api

import (
	"context"
	"net/http"
	"strings"

	"github.com/troupehq/troupe"
)

// storageRef finds the storage a request names. Storage handlers take one,
// so the same handler serves /v2/datasets/{storageId} and a run's default
// dataset under /v2/actor-runs/{runId}/dataset.
type storageRef func(r *http.Request) (*troupe.Storage, error)

// storageMount is a path prefix under which one storage's routes live, and
// how to find that storage.
type storageMount struct {
	prefix string
	ref    storageRef
}

// runSegment is the path segment of a run's default storage of a kind.
var runSegment = map[troupe.StorageKind]string{
	troupe.KindDataset:       "dataset",
	troupe.KindKeyValueStore: "key-value-store",
	troupe.KindRequestQueue:  "request-queue",
}

// storageMounts lists every prefix that names one storage of a kind: the
// storage by id or name, and the default storage of a run (by id, or the
// last run of an actor).
func (s *Server) storageMounts(kind troupe.StorageKind) []storageMount {
	mounts := []storageMount{{"/v2/" + string(kind) + "/{storageId}", s.storageByPath(kind)}}
	for _, p := range runPrefixes() {
		mounts = append(mounts, storageMount{p + "/" + runSegment[kind], s.runStorage(kind)})
	}
	return mounts
}

// storageByRef finds a storage by id, "username~name" or "~name".
// record-not-found.
func (s *Server) storageByRef(ctx context.Context, kind troupe.StorageKind, ref string) (*troupe.Storage, error) {
	ref = strings.Replace(ref, "/", "~", 1)
	var st *troupe.Storage
	var err error
	if user, name, ok := strings.Cut(ref, "~"); ok {
		if user != "" && user != s.cfg.Username {
			return nil, notFound(storageNoun(kind), ref)
		}
		st, err = s.store.GetStorageByName(ctx, kind, name)
	} else {
		st, err = s.store.GetStorage(ctx, kind, ref)
	}
	if troupe.IsNotFound(err) {
		return nil, notFound(storageNoun(kind), ref)
	}
	if err != nil {
		return nil, err
	}
	st.Kind = kind
	return st, nil
}

func storageNoun(kind troupe.StorageKind) string {
	switch kind {
	case troupe.KindDataset:
		return "Dataset"
	case troupe.KindKeyValueStore:
		return "Key-value store"
	}
	return "Request queue"
}

func (s *Server) storageByPath(kind troupe.StorageKind) storageRef {
	return func(r *http.Request) (*troupe.Storage, error) {
		return s.storageByRef(r.Context(), kind, r.PathValue("storageId"))
	}
}

// runStorage finds the default storage of a kind of the run the request
// names.
func (s *Server) runStorage(kind troupe.StorageKind) storageRef {
	return func(r *http.Request) (*troupe.Storage, error) {
		run, err := s.pathRun(r)
		if err != nil {
			return nil, err
		}
		id := run.DefaultRequestQueueID
		switch kind {
		case troupe.KindDataset:
			id = run.DefaultDatasetID
		case troupe.KindKeyValueStore:
			id = run.DefaultKeyValueStoreID
		}
		return s.storageByRef(r.Context(), kind, id)
	}
}

func (s *Server) storageView(r *http.Request, st *troupe.Storage) *troupe.Storage {
	if st.Username == "" {
		st.Username = s.cfg.Username
	}
	if st.GeneralAccess == "" {
		st.GeneralAccess = "FOLLOW_USER_SETTING"
	}
	if st.Kind != troupe.KindKeyValueStore && st.ConsoleURL == "" {
		st.ConsoleURL = absURL(r, "/v2/"+string(st.Kind)+"/"+st.ID)
	}
	if st.Stats == nil {
		st.Stats = &troupe.StorageStats{}
	}
	return st
}

func (s *Server) listStorages(kind troupe.StorageKind) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		q := queryOf(r)
		o, err := q.listOptions()
		if err != nil {
			return err
		}
		unnamed, err := q.bool("unnamed", false)
		if err != nil {
			return err
		}
		list, total, err := s.store.ListStorages(r.Context(), kind, unnamed, o)
		if err != nil {
			return err
		}
		for _, st := range list {
			s.storageView(r, st)
		}
		writeData(w, http.StatusOK, newPage(o, total, list))
		return nil
	}
}

// createStorage answers POST /v2/{kind}?name=: the storage of that name
// (200), or a new one (201). Without a name it makes an unnamed storage. A
// storage made with a run's token records the run (actRunId) and its actor
// (actId); a limited run gets an existing storage only when it reaches it.
func (s *Server) createStorage(kind troupe.StorageKind) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		now := s.now()
		st := &troupe.Storage{
			ID: troupe.NewID(), Kind: kind, UserID: s.cfg.UserID, Username: s.cfg.Username,
			CreatedAt: now, ModifiedAt: now, AccessedAt: now, GeneralAccess: "FOLLOW_USER_SETTING",
		}
		if name := queryOf(r).str("name"); name != "" {
			if !validName(name) {
				return errStorageName(name)
			}
			st.Name = &name
		}
		c := callerFrom(r.Context())
		if c.run != nil {
			// A storage a run makes records the run and its actor: the
			// run (and later runs of the actor, for a named one) reach it.
			st.ActID, st.ActRunID = &c.run.ActID, &c.run.ID
		}
		got, created, err := s.store.CreateStorage(r.Context(), st)
		if err != nil {
			return err
		}
		if !created && c.limited() {
			got.Kind = kind
			if err := s.checkStorageAccess(r, c, got); err != nil {
				return err
			}
		}
		status := http.StatusOK
		if created {
			status = http.StatusCreated
			w.Header().Set("Location", absURL(r, "/v2/"+string(kind)+"/"+got.ID))
		}
		writeData(w, status, s.storageView(r, got))
		return nil
	}
}

func errStorageName(name string) error {
	return troupe.Errorf(troupe.ErrInvalidValue, "Storage name %q is not valid: use 1-63 letters, digits, '-', '_' or '.', starting with a letter or digit.", name)
}

func (s *Server) getStorage(ref storageRef) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		st, err := ref(r)
		if err != nil {
			return err
		}
		writeData(w, http.StatusOK, s.storageView(r, st))
		return nil
	}
}

// storageUpdate is the body of PUT on a storage.
type storageUpdate struct {
	Name          *string `json:"name"`
	Title         *string `json:"title"`
	GeneralAccess *string `json:"generalAccess"`
}

func (s *Server) updateStorage(ref storageRef) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		st, err := ref(r)
		if err != nil {
			return err
		}
		var u storageUpdate
		if err := decodeJSON(r, &u); err != nil {
			return err
		}
		if u.Name != nil && *u.Name != "" && !validName(*u.Name) {
			return errStorageName(*u.Name)
		}
		if u.GeneralAccess != nil && !oneOf(*u.GeneralAccess, generalAccessValues) {
			return troupe.Errorf(troupe.ErrInvalidValue, "Field generalAccess must be one of %s.", strings.Join(generalAccessValues, ", "))
		}
		now := s.now()
		st, err = s.store.UpdateStorage(r.Context(), st.Kind, st.ID, func(x *troupe.Storage) error {
			if u.Name != nil {
				if *u.Name == "" {
					x.Name = nil
				} else {
					name := *u.Name
					x.Name = &name
				}
			}
			if u.Title != nil {
				title := *u.Title
				x.Title = &title
			}
			if u.GeneralAccess != nil {
				x.GeneralAccess = *u.GeneralAccess
			}
			x.ModifiedAt = now
			return nil
		})
		if err != nil {
			return err
		}
		writeData(w, http.StatusOK, s.storageView(r, st))
		return nil
	}
}

func (s *Server) deleteStorage(ref storageRef) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		st, err := ref(r)
		if err != nil {
			return err
		}
		if err := s.store.DeleteStorage(r.Context(), st.Kind, st.ID); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
}
