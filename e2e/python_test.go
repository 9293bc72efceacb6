package e2e_test

import (
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/troupehq/troupe/client"
	"github.com/troupehq/troupe/pgtest"
)

// wheelPython returns a Python that can build a wheel from a local source
// tree without an index (setuptools and wheel installed).
func wheelPython(t *testing.T) string {
	t.Helper()
	for _, py := range []string{"/usr/bin/python3", "python3"} {
		if exec.Command(py, "-c", "import setuptools, wheel").Run() == nil {
			return py
		}
	}
	t.Fatal("no python3 with setuptools and wheel: install python3-setuptools and python3-wheel (scripts/test does)")
	return ""
}

// buildWheel builds the wheel of a tiny package, greetlib 1.0 (with a
// console script, greet), into a new folder and returns the folder.
func buildWheel(t *testing.T) string {
	t.Helper()
	src, out := t.TempDir(), t.TempDir()
	files := map[string]string{
		"pyproject.toml": "[build-system]\nrequires = [\"setuptools\"]\nbuild-backend = \"setuptools.build_meta\"\n\n" +
			"[project]\nname = \"greetlib\"\nversion = \"1.0\"\n\n[project.scripts]\ngreet = \"greetlib:main\"\n",
		"greetlib/__init__.py": "def greet(name):\n    return f'greetlib says hello to {name}'\n\n" +
			"def main():\n    print(greet('the greet script'))\n",
	}
	for name, content := range files {
		p := filepath.Join(src, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(wheelPython(t), "-m", "pip", "wheel", "--no-deps", "--no-index", "--no-build-isolation",
		"--disable-pip-version-check", "-q", "-w", out, src)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("pip wheel: %v\n%s", err, b)
	}
	return out
}

// pythonActor is an Apify-style Python actor that greets with greetlib,
// from its module and from its console script, and keeps in OUTPUT what
// it saw.
var pythonActor = []client.SourceFile{
	{Name: "Dockerfile", Format: "TEXT", Content: "FROM apify/actor-python:3.11\nCOPY requirements.txt ./\n" +
		"RUN pip install -r requirements.txt\nCOPY . ./\nCMD [\"python\", \"-m\", \"src\"]\n"},
	{Name: "requirements.txt", Format: "TEXT", Content: "greetlib==1.0\n"},
	{Name: "src/__init__.py", Format: "TEXT", Content: ""},
	{Name: "src/__main__.py", Format: "TEXT", Content: `import json, os, subprocess, sys, urllib.request
from greetlib import greet

print(greet('troupe'), 'from', sys.prefix)
script = subprocess.run(['greet'], capture_output=True, text=True)
url = f"{os.environ['APIFY_API_BASE_URL']}/v2/key-value-stores/{os.environ['ACTOR_DEFAULT_KEY_VALUE_STORE_ID']}/records/OUTPUT"
body = json.dumps({'greeting': greet('troupe'), 'prefix': sys.prefix, 'executable': sys.executable,
                   'script': script.stdout.strip() or script.stderr}).encode()
req = urllib.request.Request(url, data=body, method='PUT', headers={
    'Authorization': 'Bearer ' + os.environ['APIFY_TOKEN'], 'Content-Type': 'application/json'})
urllib.request.urlopen(req).read()
`},
}

// checkPythonOutput checks the OUTPUT of a run of pythonActor on s: greetlib
// imported and its script run, inside the build's virtual environment
// (reached through the run's folder).
func checkPythonOutput(t *testing.T, s *server, runID string) {
	t.Helper()
	out := s.record(t, runID, "OUTPUT")
	prefix, _ := out["prefix"].(string)
	if out["greeting"] != "greetlib says hello to troupe" || !strings.HasSuffix(prefix, "/.venv") ||
		out["executable"] != prefix+"/bin/python" || out["script"] != "greetlib says hello to the greet script" {
		t.Errorf("OUTPUT = %v\nlog:\n%s", out, s.log(t, runID))
	}
}

// TestPythonActor builds a Python actor whose requirements.txt names a
// package only a local wheel folder has (PyPI is out of reach): the build
// makes a virtual environment with it installed, the Dockerfile's start
// command runs inside it, and a second build with the same requirements
// reuses the environment without asking the index again.
func TestPythonActor(t *testing.T) {
	t.Parallel()
	wheels := buildWheel(t)
	var hits atomic.Int32
	files := http.FileServer(http.Dir(wheels))
	index := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		files.ServeHTTP(w, r)
	}))
	defer index.Close()

	s, err := launch(t.TempDir(), "--examples=false",
		"--build-env", "PIP_NO_INDEX=1", "--build-env", "PIP_FIND_LINKS="+index.URL+"/")
	if err != nil {
		t.Fatal(err)
	}
	defer s.stop()
	ctx := testCtx(t)

	b1 := s.buildOf(t, pythonActor, nil)
	b1 = s.finishBuild(t, b1.ID)
	log1 := s.buildLog(t, b1.ID)
	if b1.Status != client.StatusSucceeded || !strings.Contains(log1, "Creating a Python virtual environment") {
		t.Fatalf("first build %s:\n%s", b1.Status, log1)
	}
	fetched := hits.Load()
	if fetched == 0 {
		t.Fatalf("the build never asked the wheel folder:\n%s", log1)
	}

	runOnce := func() {
		t.Helper()
		run, err := s.c.Actor(b1.ActID).Start(ctx, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		run = s.finish(t, run.ID)
		wantStatus(t, run, client.StatusSucceeded)
		checkPythonOutput(t, s, run.ID)
	}
	runOnce()

	b2, err := s.c.Actor(b1.ActID).Build(ctx, "0.1", nil)
	if err != nil {
		t.Fatal(err)
	}
	b2 = s.finishBuild(t, b2.ID)
	log2 := s.buildLog(t, b2.ID)
	if b2.Status != client.StatusSucceeded || !strings.Contains(log2, "Reusing the Python virtual environment") {
		t.Fatalf("second build %s:\n%s", b2.Status, log2)
	}
	if got := hits.Load(); got != fetched {
		t.Errorf("the second build asked the wheel folder again (%d requests, then %d)", fetched, got)
	}
	runOnce() // with the second build, now latest
}

// TestPythonActorOnAnotherReplica: a Python actor built on replica A runs
// on replica B, which shares only the database: B unpacks the build's
// archive, virtual environment included, into its own data folder, and the
// environment runs from there (its interpreter, its packages, the scripts
// pip wrote).
func TestPythonActorOnAnotherReplica(t *testing.T) {
	t.Parallel()
	wheels := buildWheel(t)
	index := httptest.NewServer(http.FileServer(http.Dir(wheels)))
	defer index.Close()
	url, dirA, dirB := pgtest.NewDatabase(t), t.TempDir(), t.TempDir()
	a := replica(t, url, dirA, "a", "--examples=false",
		"--build-env", "PIP_NO_INDEX=1", "--build-env", "PIP_FIND_LINKS="+index.URL+"/")
	build := a.finishBuild(t, a.buildOf(t, pythonActor, nil).ID)
	if build.Status != client.StatusSucceeded {
		t.Fatalf("build %s:\n%s", build.Status, a.buildLog(t, build.ID))
	}
	if err := os.RemoveAll(filepath.Join(dirA, "builds")); err != nil {
		t.Fatal(err)
	}
	b := replica(t, url, dirB, "b", "--examples=false")
	run, err := b.c.Actor(build.ActID).Start(testCtx(t), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	run = b.finish(t, run.ID)
	wantStatus(t, run, client.StatusSucceeded)
	checkPythonOutput(t, b, run.ID)
	if got, err := filepath.Glob(filepath.Join(dirB, "artifacts", "*", ".venv", "bin", "python")); err != nil || len(got) != 1 {
		t.Errorf("B's cache of the build: %v %v", got, err)
	}
}
