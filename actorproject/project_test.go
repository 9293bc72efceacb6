package actorproject_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/troupehq/troupe"
	"github.com/troupehq/troupe/actorproject"
)

func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestRead(t *testing.T) {
	t.Parallel()
	const schema = `{"title":"in","type":"object"}`
	for _, tc := range []struct {
		name       string
		files      map[string]string
		wantCmd    []string
		wantSchema string
		wantErr    string
	}{
		{"Empty", map[string]string{}, nil, "", ""},
		{"TopDockerfile", map[string]string{"Dockerfile": `CMD ["top"]`}, []string{"top"}, "", ""},
		{"MetaDockerfileFirst", map[string]string{"Dockerfile": `CMD ["top"]`, ".actor/Dockerfile": `CMD ["meta"]`}, []string{"meta"}, "", ""},
		{"ActorJSONDockerfile", map[string]string{".actor/actor.json": `{"dockerfile":"../docker/Dockerfile.prod"}`,
			"docker/Dockerfile.prod": `CMD ["named"]`, ".actor/Dockerfile": `CMD ["meta"]`}, []string{"named"}, "", ""},
		{"DockerfileOutside", map[string]string{".actor/actor.json": `{"dockerfile":"../../Dockerfile"}`}, nil, "", troupe.ErrInvalidInput},
		{"InlineSchema", map[string]string{".actor/actor.json": `{"input":` + schema + `}`}, nil, schema, ""},
		{"SchemaPath", map[string]string{".actor/actor.json": `{"input":"./in.json"}`, ".actor/in.json": schema}, nil, schema, ""},
		{"SchemaPathMissing", map[string]string{".actor/actor.json": `{"input":"./in.json"}`}, nil, "", troupe.ErrInvalidInput},
		{"SchemaPathOutside", map[string]string{".actor/actor.json": `{"input":"../../in.json"}`}, nil, "", troupe.ErrInvalidInput},
		{"MetaSchema", map[string]string{".actor/input_schema.json": schema, "INPUT_SCHEMA.json": `{}`}, nil, schema, ""},
		{"LegacySchema", map[string]string{"INPUT_SCHEMA.json": schema}, nil, schema, ""},
		{"SchemaNotObject", map[string]string{"INPUT_SCHEMA.json": `[1]`}, nil, "", troupe.ErrInvalidInput},
		{"BadActorJSON", map[string]string{".actor/actor.json": `{`}, nil, "", troupe.ErrInvalidInput},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p, err := actorproject.Read(writeTree(t, tc.files))
			if tc.wantErr != "" {
				if troupe.ErrorType(err) != tc.wantErr {
					t.Fatalf("err = %v, want %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := p.Dockerfile.Command(); !slices.Equal(got, tc.wantCmd) {
				t.Errorf("command %q, want %q", got, tc.wantCmd)
			}
			if string(p.InputSchema) != tc.wantSchema {
				t.Errorf("schema %s, want %s", p.InputSchema, tc.wantSchema)
			}
		})
	}
}

func TestReadActorJSON(t *testing.T) {
	t.Parallel()
	dir := writeTree(t, map[string]string{".actor/actor.json": `{"name":"hello","title":"Hello","version":"1.2","buildTag":"beta"}`})
	aj, err := actorproject.ReadActorJSON(dir)
	if err != nil {
		t.Fatal(err)
	}
	if aj.Name != "hello" || aj.Title != "Hello" || aj.Version != "1.2" || aj.BuildTag != "beta" {
		t.Errorf("actor.json = %+v", aj)
	}
	if _, err := actorproject.ReadActorJSON(t.TempDir()); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing actor.json: err %v", err)
	}
}
