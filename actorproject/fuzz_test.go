package actorproject_test

import (
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/troupehq/troupe/actorproject"
)

var envKeyRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// FuzzDockerfile checks the Dockerfile reader: any source parses without
// failing and to the same result twice; a start command written in exec
// form comes back as written; an ENV value written in double quotes with
// Docker's escapes (\" \\ \$) comes back as written. Seeds:
// testdata/fuzz/FuzzDockerfile.
func FuzzDockerfile(f *testing.F) {
	f.Fuzz(func(t *testing.T, src, entrypoint, cmd, key, value string) {
		d := actorproject.ParseDockerfile(src)
		if c := d.Command(); c != nil && len(c) == 0 {
			t.Fatalf("%q: empty, non-nil command", src)
		}
		if again := actorproject.ParseDockerfile(src); !slices.Equal(again.Command(), d.Command()) || !slices.Equal(again.Env, d.Env) {
			t.Fatalf("%q parses differently twice", src)
		}

		ep, args := strings.Split(entrypoint, "\x00"), strings.Split(cmd, "\x00")
		if !slices.ContainsFunc(append(ep, args...), func(s string) bool { return !utf8.ValidString(s) }) {
			checkExecForm(t, ep, args)
		}
		if !envKeyRE.MatchString(key) || !utf8.ValidString(value) || strings.ContainsAny(value, "\r\n") {
			return
		}
		quoted := strings.NewReplacer(`\`, `\\`, `"`, `\"`, `$`, `\$`).Replace(value)
		src = "ENV " + key + `="` + quoted + `" OTHER=x` + "\n"
		want := [][2]string{{key, value}, {"OTHER", "x"}}
		if got := actorproject.ParseDockerfile(src).Env; !slices.Equal(got, want) {
			t.Fatalf("%q: env %q, want %q", src, got, want)
		}
	})
}

// checkExecForm writes ENTRYPOINT and CMD in exec form and reads them back.
func checkExecForm(t *testing.T, ep, args []string) {
	t.Helper()
	epJSON, _ := json.Marshal(ep)
	argsJSON, _ := json.Marshal(args)
	src := "FROM node:20\nENTRYPOINT " + string(epJSON) + "\nCMD " + string(argsJSON) + "\n"
	if got, want := actorproject.ParseDockerfile(src).Command(), append(ep, args...); !slices.Equal(got, want) {
		t.Fatalf("%q: command %q, want %q", src, got, want)
	}
}
