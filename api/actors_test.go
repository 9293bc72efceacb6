package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/troupehq/troupe"
)

func TestActors(t *testing.T) {
	t.Parallel()
	b := setup(t, false)
	a := b.createActor("my-actor")

	t.Run("Create", func(t *testing.T) {
		if a.ID == "" || a.Name != "my-actor" || a.Username != username || a.UserID != userID {
			t.Errorf("created actor = %+v", a)
		}
		if a.DefaultRunOptions.Build != "latest" || a.DefaultRunOptions.MemoryMbytes != 1024 || a.DefaultRunOptions.TimeoutSecs != 3600 {
			t.Errorf("defaultRunOptions = %+v", a.DefaultRunOptions)
		}
		if len(a.Versions) != 1 || a.Versions[0].BuildTag != "latest" {
			t.Errorf("versions = %+v", a.Versions)
		}
		r := b.callJSON("POST", "/v2/actors", map[string]any{"name": "other"})
		r.ok(t, 201, nil)
		if loc := r.header.Get("Location"); !contains(loc, "/v2/actors/") {
			t.Errorf("Location = %q", loc)
		}
	})
	t.Run("ErrNameNotUnique", func(t *testing.T) {
		b.callJSON("POST", "/v2/actors", map[string]any{"name": "my-actor"}).fails(t, 409, "actor-name-not-unique")
	})
	t.Run("ErrInvalid", func(t *testing.T) {
		b.callJSON("POST", "/v2/actors", map[string]any{"title": "no name"}).fails(t, 400, "parameter-required")
		b.callJSON("POST", "/v2/actors", map[string]any{"name": "bad name!"}).fails(t, 400, "invalid-value")
		b.call("POST", "/v2/actors", []byte("{not json"), "Content-Type", "application/json").fails(t, 400, "invalid-input")
		b.callJSON("POST", "/v2/actors", map[string]any{"name": "mem", "defaultRunOptions": map[string]any{"memoryMbytes": 100}}).
			fails(t, 400, "invalid-value")
		b.callJSON("POST", "/v2/actors", map[string]any{"name": "ver", "versions": []map[string]any{{"versionNumber": "1"}}}).
			fails(t, 400, "invalid-value")
	})
	t.Run("Get", func(t *testing.T) {
		for _, ref := range []string{a.ID, "~my-actor", username + "~my-actor"} {
			for _, prefix := range []string{"/v2/actors/", "/v2/acts/"} {
				var got troupe.Actor
				b.call("GET", prefix+ref, nil).ok(t, 200, &got)
				if got.ID != a.ID {
					t.Errorf("GET %s%s = %s", prefix, ref, got.ID)
				}
			}
		}
		b.call("GET", "/v2/actors/nope", nil).fails(t, 404, "record-not-found")
		b.call("GET", "/v2/actors/bob~my-actor", nil).fails(t, 404, "record-not-found")
	})
	t.Run("List", func(t *testing.T) {
		var p listPage[troupe.Actor]
		b.call("GET", "/v2/actors?limit=1&desc=1", nil).ok(t, 200, &p)
		if p.Total < 2 || p.Count != 1 || p.Limit != 1 || !p.Desc || len(p.Items) != 1 {
			t.Errorf("page = %+v", p)
		}
		b.call("GET", "/v2/acts", nil).ok(t, 200, &p)
		if p.Limit != 1000 || p.Count != p.Total {
			t.Errorf("page = %+v", p)
		}
	})
	t.Run("Update", func(t *testing.T) {
		var got troupe.Actor
		b.callJSON("PUT", "/v2/actors/"+a.ID, map[string]any{
			"title": "Mine", "defaultRunOptions": map[string]any{"memoryMbytes": 2048}, "unknownField": 1,
		}).ok(t, 200, &got)
		if got.Title != "Mine" || got.DefaultRunOptions.MemoryMbytes != 2048 || got.DefaultRunOptions.TimeoutSecs != 3600 {
			t.Errorf("updated = %+v", got)
		}
		b.callJSON("PUT", "/v2/acts/~my-actor", map[string]any{"defaultRunOptions": map[string]any{"memoryMbytes": 3000}}).
			fails(t, 400, "invalid-value")
		b.callJSON("PUT", "/v2/actors/"+a.ID, map[string]any{"taggedBuilds": map[string]any{"beta": map[string]any{"buildId": "nope"}}}).
			fails(t, 404, "record-not-found")
	})
	t.Run("TaggedBuilds", func(t *testing.T) {
		bd := b.buildActor(a, "")
		var got troupe.Actor
		b.callJSON("PUT", "/v2/actors/"+a.ID, map[string]any{"taggedBuilds": map[string]any{"beta": map[string]any{"buildId": bd.ID}}}).
			ok(t, 200, &got)
		if tb := got.TaggedBuilds["beta"]; tb == nil || tb.BuildNumber != bd.BuildNumber || got.TaggedBuilds["latest"] == nil {
			t.Errorf("taggedBuilds = %+v", got.TaggedBuilds)
		}
		var after troupe.Actor
		b.callJSON("PUT", "/v2/actors/"+a.ID, map[string]any{"taggedBuilds": map[string]any{"beta": nil}}).ok(t, 200, &after)
		if _, ok := after.TaggedBuilds["beta"]; ok {
			t.Error("tag beta was not removed")
		}
	})
	t.Run("Delete", func(t *testing.T) {
		d := b.createActor("doomed")
		b.call("DELETE", "/v2/acts/~doomed", nil).ok(t, 204, nil)
		b.call("GET", "/v2/actors/"+d.ID, nil).fails(t, 404, "record-not-found")
		b.call("DELETE", "/v2/actors/"+d.ID, nil).fails(t, 404, "record-not-found")
	})
}

func TestVersions(t *testing.T) {
	t.Parallel()
	b := setup(t, false)
	a := b.createActor("versioned")
	base := "/v2/actors/" + a.ID + "/versions"

	t.Run("List", func(t *testing.T) {
		var got struct {
			Total int              `json:"total"`
			Items []troupe.Version `json:"items"`
		}
		b.call("GET", base, nil).ok(t, 200, &got)
		if got.Total != 1 || got.Items[0].VersionNumber != "0.0" {
			t.Errorf("versions = %+v", got)
		}
	})
	t.Run("Create", func(t *testing.T) {
		var v troupe.Version
		b.callJSON("POST", base, map[string]any{
			"versionNumber": "1.2", "sourceFiles": []map[string]any{{"name": "a.bin", "format": "BASE64", "content": "aGk="}},
			"envVars": []map[string]any{{"name": "SECRET", "value": "s3cr3t", "isSecret": true}},
		}).ok(t, 201, &v)
		if v.SourceType != troupe.SourceFiles || v.BuildTag != "latest" {
			t.Errorf("version = %+v", v)
		}
		if v.EnvVars[0].Value != "" {
			t.Error("a secret value was shown")
		}
		b.callJSON("POST", base, map[string]any{"versionNumber": "1.2"}).fails(t, 409, "version-already-exists")
		b.callJSON("POST", base, map[string]any{}).fails(t, 400, "parameter-required")
		b.callJSON("POST", base, map[string]any{"versionNumber": "1.2.3"}).fails(t, 400, "invalid-value")
		b.callJSON("POST", base, map[string]any{"versionNumber": "2.0", "sourceType": "GIT_REPO"}).fails(t, 400, "invalid-value")
		b.callJSON("POST", base, map[string]any{"versionNumber": "2.0",
			"sourceFiles": []map[string]any{{"name": "../escape.js", "content": "x"}}}).fails(t, 400, "invalid-value")
		b.callJSON("POST", base, map[string]any{"versionNumber": "2.0",
			"sourceFiles": []map[string]any{{"name": "x.bin", "format": "BASE64", "content": "!!"}}}).fails(t, 400, "invalid-value")
	})
	t.Run("SourceFolderNeedsAdmin", func(t *testing.T) {
		bd := b.buildActor(a, "")
		_ = bd
		// Even a run with full permissions acts for the account, not
		// for the admin of the server.
		run := b.start(a.ID, "?forcePermissionLevel=FULL_PERMISSIONS", nil, "")
		h := http.Header{"Authorization": {"Bearer " + troupe.RunToken(runSecret, run)}, "Content-Type": {"application/json"}}
		body := []byte(`{"versionNumber":"3.0","sourceType":"SOURCE_FOLDER","sourceDir":"/etc"}`)
		b.raw("POST", base, body, h).fails(t, 400, "invalid-value")
		b.call("POST", base, body, "Content-Type", "application/json").ok(t, 201, nil)
	})
	t.Run("Get", func(t *testing.T) {
		var v troupe.Version
		b.call("GET", base+"/0.0", nil).ok(t, 200, &v)
		if v.VersionNumber != "0.0" || len(v.SourceFiles) != 1 {
			t.Errorf("version = %+v", v)
		}
		b.call("GET", base+"/9.9", nil).fails(t, 404, "record-not-found")
	})
	t.Run("Update", func(t *testing.T) {
		var v troupe.Version
		b.callJSON("PUT", base+"/0.0", map[string]any{"buildTag": "beta"}).ok(t, 200, &v)
		if v.BuildTag != "beta" || len(v.SourceFiles) != 1 {
			t.Errorf("updated version = %+v", v)
		}
		b.callJSON("PUT", "/v2/acts/~versioned/versions/4.0", map[string]any{"sourceFiles": []map[string]any{}}).ok(t, 200, &v)
		if v.VersionNumber != "4.0" {
			t.Errorf("created version = %+v", v)
		}
		b.callJSON("PUT", base+"/0.0", map[string]any{"sourceType": "TARBALL"}).fails(t, 400, "invalid-value")
	})
	t.Run("Delete", func(t *testing.T) {
		b.call("DELETE", base+"/4.0", nil).ok(t, 204, nil)
		b.call("DELETE", base+"/4.0", nil).fails(t, 404, "record-not-found")
	})
}

// TestActorImage: an actor's image (troupe's own field) is set, refused when
// it is no image reference (nothing of the update is kept), and cleared.
func TestActorImage(t *testing.T) {
	t.Parallel()
	b := setup(t, false)
	a := b.createActor("imaged")
	path := "/v2/acts/" + a.ID
	var got troupe.Actor
	b.callJSON("PUT", path, map[string]any{"image": "registry.example/team/node:20@sha256:0abc"}).ok(t, 200, &got)
	if got.Image != "registry.example/team/node:20@sha256:0abc" {
		t.Fatalf("image after PUT = %q", got.Image)
	}
	for _, bad := range []string{"node 20", "-rm", "node:20\n", "/abs", "n\u00e9de", strings.Repeat("a", 513)} {
		b.callJSON("PUT", path, map[string]any{"image": bad, "title": "changed"}).fails(t, 400, troupe.ErrInvalidValue)
	}
	b.call("GET", path, nil).ok(t, 200, &got)
	if got.Image != "registry.example/team/node:20@sha256:0abc" || got.Title == "changed" {
		t.Fatalf("after refused updates: image %q, title %q", got.Image, got.Title)
	}
	var cleared troupe.Actor
	b.callJSON("PUT", path, map[string]any{"image": ""}).ok(t, 200, &cleared)
	if cleared.ID != a.ID || cleared.Image != "" {
		t.Fatalf("after clearing: actor %q, image %q", cleared.ID, cleared.Image)
	}
}
