package npmstart

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// needNPM fails the test when npm is missing: troupe's builds need it, so
// every machine that runs troupe's tests has it.
func needNPM(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("npm"); err != nil {
		t.Fatal("npm is needed for this test:", err)
	}
}

// project makes a package folder with the package.json and an empty
// node_modules/.bin.
func project(t *testing.T, pkg string) string {
	t.Helper()
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "package.json"), []byte(pkg), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "node_modules", ".bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func runEnv(dir string) []string {
	return []string{"PATH=" + os.Getenv("PATH"), "LANG=C.UTF-8", "HOME=" + dir,
		"ACTOR_RUN_ID=run1", "APIFY_TOKEN=secret", "APIFY_IS_AT_HOME=1"}
}

// run runs argv in dir with env and returns its output and exit code.
func run(t *testing.T, dir string, argv, env []string) (string, int) {
	t.Helper()
	path, err := lookPath(argv[0], envValue(env, "PATH"))
	if err != nil {
		path = argv[0]
	}
	cmd := exec.Command(path, argv[1:]...)
	cmd.Dir, cmd.Env = dir, env
	out, err := cmd.Output()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return string(out), ee.ExitCode()
	}
	if err != nil {
		t.Fatalf("%v: %v", argv, err)
	}
	return string(out), 0
}

func envMap(out string) map[string]string {
	m := map[string]string{}
	for _, kv := range strings.Split(strings.TrimSuffix(out, "\x00"), "\x00") {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return m
}

// TestSameEnvironmentAsNPM runs the script through npm and through the
// rewritten command, and compares what the script sees: every variable,
// PATH and the working folder included.
func TestSameEnvironmentAsNPM(t *testing.T) {
	t.Parallel()
	needNPM(t)
	for _, argv := range [][]string{
		{"/bin/sh", "-c", "npm start --silent"},
		{"npm", "start", "-s"},
		{"npm", "run", "--silent", "start"},
		{"npm", "run-script", "start", "--silent"},
	} {
		t.Run(strings.Join(argv, " "), func(t *testing.T) {
			t.Parallel()
			dir := project(t, `{"name":"@me/sdk-actor","version":"1.2.3-beta.1","type":"module",
				"config":{"port":8080,"deep":{"on":true,"off":false,"list":["a",null]}},
				"engines":{"node":">=20"},"scripts":{"start":"env -0; pwd"}}`)
			want, wantCode := run(t, dir, argv, runEnv(dir))
			var rw Rewriter
			nargv, nenv, ok := rw.Rewrite(context.Background(), argv, dir, dir, runEnv(dir))
			if !ok {
				t.Fatal("not rewritten")
			}
			if nargv[0] != "sh" || nargv[1] != "-c" || nargv[2] != "env -0; pwd" {
				t.Errorf("argv %q", nargv)
			}
			got, gotCode := run(t, dir, nargv, nenv)
			if gotCode != wantCode {
				t.Errorf("exit code %d, npm's %d", gotCode, wantCode)
			}
			wm, gm := envMap(want), envMap(got)
			for k, v := range wm {
				if gm[k] != v {
					t.Errorf("%s: got %q, npm gives %q", k, gm[k], v)
				}
			}
			for k, v := range gm {
				if _, ok := wm[k]; !ok {
					t.Errorf("%s=%q is not set by npm", k, v)
				}
			}
			if wm["npm_package_config_deep_on"] != "true" || wm["npm_lifecycle_event"] != "start" {
				t.Errorf("npm's environment lacks the package's variables: %v", wm)
			}
		})
	}
}

// TestExitCodeAndBin: the script's exit code is the command's, and the
// package's node_modules/.bin comes first in PATH, as with npm.
func TestExitCodeAndBin(t *testing.T) {
	t.Parallel()
	needNPM(t)
	dir := project(t, `{"name":"x","version":"0.0.1","scripts":{"start":"hello-bin; exit 7"}}`)
	bin := filepath.Join(dir, "node_modules", ".bin", "hello-bin")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\necho hello from bin\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	argv := []string{"npm", "start", "--silent"}
	want, wantCode := run(t, dir, argv, runEnv(dir))
	var rw Rewriter
	nargv, nenv, ok := rw.Rewrite(context.Background(), argv, dir, dir, runEnv(dir))
	if !ok {
		t.Fatal("not rewritten")
	}
	got, gotCode := run(t, dir, nargv, nenv)
	if got != want || got != "hello from bin\n" || gotCode != wantCode || gotCode != 7 {
		t.Errorf("got %q exit %d; npm %q exit %d", got, gotCode, want, wantCode)
	}
}

// TestKeepsNPM lists the commands and projects that keep running through
// npm, because npm would do something more than run the script.
func TestKeepsNPM(t *testing.T) {
	t.Parallel()
	const plain = `{"name":"x","version":"1.0.0","scripts":{"start":"node main.js","build":"tsc"}}`
	cases := []struct {
		name  string
		argv  []string
		pkg   string
		files map[string]string
		env   []string
	}{
		{"no --silent (npm prints a banner)", []string{"npm", "start"}, plain, nil, nil},
		{"other flag", []string{"npm", "start", "--silent", "--workspaces"}, plain, nil, nil},
		{"extra arguments", []string{"npm", "run", "build", "--silent", "--", "x"}, plain, nil, nil},
		{"shell operators", []string{"/bin/sh", "-c", "npm start --silent && echo"}, plain, nil, nil},
		{"not npm", []string{"node", "main.js"}, plain, nil, nil},
		{"npm install", []string{"npm", "install", "--silent"}, plain, nil, nil},
		{"no such script", []string{"npm", "run", "test", "--silent"}, plain, nil, nil},
		{"no start script (npm falls back to server.js)", []string{"npm", "start", "--silent"}, `{"name":"x"}`, nil, nil},
		{"prestart", []string{"npm", "start", "--silent"}, `{"scripts":{"prestart":"x","start":"y"}}`, nil, nil},
		{"poststart", []string{"npm", "start", "--silent"}, `{"scripts":{"poststart":"x","start":"y"}}`, nil, nil},
		{"workspaces", []string{"npm", "start", "--silent"}, `{"workspaces":["a"],"scripts":{"start":"y"}}`, nil, nil},
		{"bin", []string{"npm", "start", "--silent"}, `{"bin":"cli.js","scripts":{"start":"y"}}`, nil, nil},
		{"odd version", []string{"npm", "start", "--silent"}, `{"version":"v1","scripts":{"start":"y"}}`, nil, nil},
		{".npmrc", []string{"npm", "start", "--silent"}, plain, map[string]string{".npmrc": "loglevel=warn\n"}, nil},
		{"npm setting in the environment", []string{"npm", "start", "--silent"}, plain, nil, []string{"npm_config_loglevel=warn"}},
		{"bad package.json", []string{"npm", "start", "--silent"}, `{`, nil, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			dir := project(t, c.pkg)
			for name, body := range c.files {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			var rw Rewriter
			if argv, _, ok := rw.Rewrite(context.Background(), c.argv, dir, dir, append(runEnv(dir), c.env...)); ok {
				t.Errorf("rewritten to %q", argv)
			}
		})
	}
}
