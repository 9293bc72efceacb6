package e2e_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/troupehq/troupe/client"
	kubeexec "github.com/troupehq/troupe/executor/kubernetes"
)

// greetPackage returns an npm package tarball (greet@1.0.0), base64, that
// npm installs from a file: dependency without any registry.
func greetPackage(t *testing.T) string {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for name, body := range map[string]string{
		"package/package.json": `{"name":"greet","version":"1.0.0","main":"index.js"}`,
		"package/index.js":     "module.exports = (who) => 'hello, ' + who + ', from the greet dependency';\n",
	} {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body))}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(buf.Bytes())
}

// depActor is an actor FROM node:20 whose package.json has the given
// dependencies and scripts, with greet-1.0.0.tgz beside it; main.js
// prints what the greet dependency answers.
func depActor(t *testing.T, deps, scripts string) []client.SourceFile {
	return []client.SourceFile{
		{Name: "Dockerfile", Format: "TEXT", Content: "FROM node:20\nCOPY . ./\nRUN npm install\nCMD [\"node\", \"main.js\"]\n"},
		{Name: "package.json", Format: "TEXT", Content: `{"name":"dep-actor","version":"0.0.1","dependencies":{` + deps + `},"scripts":{` + scripts + `}}`},
		{Name: "greet-1.0.0.tgz", Format: "BASE64", Content: greetPackage(t)},
		{Name: "main.js", Format: "TEXT", Content: "console.log(require('greet')('pod'));\n"},
	}
}

// noInstallPod fails unless the build's install pod is gone or going.
func noInstallPod(t *testing.T, cs kubernetes.Interface, ns, buildID string) {
	t.Helper()
	pod, err := cs.CoreV1().Pods(ns).Get(testCtx(t), kubeexec.InstallPodName(buildID), metav1.GetOptions{})
	if err == nil && pod.DeletionTimestamp == nil {
		t.Errorf("install pod %s of build %s is still there (%s)", pod.Name, buildID, pod.Status.Phase)
	} else if err != nil && !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
}

// TestKubernetesBuildPod: with --executor kubernetes, npm install runs in
// a pod of the FROM image; the folder it made becomes the build, whose run
// (a pod) uses the dependency. A failing install fails the build with
// npm's error in its log; aborting a build deletes its install pod.
func TestKubernetesBuildPod(t *testing.T) {
	s, cs, ns := kubeServer(t)
	ctx := testCtx(t)

	b := s.finishBuild(t, s.buildOf(t, depActor(t, `"greet":"file:greet-1.0.0.tgz"`, ""), nil).ID)
	log := s.buildLog(t, b.ID)
	if b.Status != client.StatusSucceeded {
		t.Fatalf("build %s:\n%s", b.Status, log)
	}
	for _, want := range []string{"Installing dependencies with npm install in a pod of the image node:20.", "added 1 package",
		"Kept the build's files as the archive the install uploaded"} {
		if !strings.Contains(log, want) {
			t.Errorf("build log lacks %q:\n%s", want, log)
		}
	}
	noInstallPod(t, cs, ns, b.ID)
	run, err := s.c.Actor(b.ActID).Start(ctx, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	run = s.finish(t, run.ID)
	if run.Status != client.StatusSucceeded {
		t.Fatalf("run is %s (%q); log:\n%s", run.Status, message(run), s.log(t, run.ID))
	}
	if log := s.log(t, run.ID); !strings.Contains(log, "hello, pod, from the greet dependency") {
		t.Errorf("run log lacks the dependency's answer:\n%s", log)
	}

	t.Run("FailingInstall", func(t *testing.T) {
		b := s.finishBuild(t, s.buildOf(t, depActor(t, `"greet":"file:missing-1.0.0.tgz"`, ""), nil).ID)
		log := s.buildLog(t, b.ID)
		if b.Status != client.StatusFailed {
			t.Fatalf("build is %s, want FAILED:\n%s", b.Status, log)
		}
		for _, want := range []string{"npm error", "missing-1.0.0.tgz", "Build failed: npm install failed: it exited with code"} {
			if !strings.Contains(log, want) {
				t.Errorf("build log lacks %q:\n%s", want, log)
			}
		}
		noInstallPod(t, cs, ns, b.ID)
	})

	t.Run("Abort", func(t *testing.T) {
		const script = `"install":"echo installing forever; node -e \"setInterval(() => {}, 1000)\""`
		b := s.buildOf(t, depActor(t, "", script), nil)
		s.waitBuildLog(t, b.ID, "installing forever")
		if _, err := cs.CoreV1().Pods(ns).Get(ctx, kubeexec.InstallPodName(b.ID), metav1.GetOptions{}); err != nil {
			t.Fatalf("install pod of the running build: %v", err)
		}
		if _, err := s.c.Build(b.ID).Abort(ctx); err != nil {
			t.Fatal(err)
		}
		if b = s.finishBuild(t, b.ID); b.Status != client.StatusAborted {
			t.Fatalf("build is %s, want ABORTED:\n%s", b.Status, s.buildLog(t, b.ID))
		}
		noInstallPod(t, cs, ns, b.ID)
	})
}

// TestKubernetesBuildPodTimeout: the install pod's activeDeadlineSeconds
// is the build's timeout; at the timeout the build ends TIMED-OUT and its
// pod is deleted.
func TestKubernetesBuildPodTimeout(t *testing.T) {
	s, cs, ns := kubeServer(t)
	const timeout = 25
	const script = `"install":"echo installing forever; node -e \"setInterval(() => {}, 1000)\""`
	b := s.buildOf(t, depActor(t, "", script), &client.BuildOptions{TimeoutSecs: timeout})
	s.waitBuildLog(t, b.ID, "installing forever")
	pod, err := cs.CoreV1().Pods(ns).Get(testCtx(t), kubeexec.InstallPodName(b.ID), metav1.GetOptions{})
	if err != nil {
		t.Fatalf("install pod of the running build: %v", err)
	}
	if d := pod.Spec.ActiveDeadlineSeconds; d == nil || *d <= 0 || *d > timeout {
		t.Errorf("activeDeadlineSeconds = %v, want at most the build's %d s", d, timeout)
	}
	if b = s.finishBuild(t, b.ID); b.Status != client.StatusTimedOut {
		t.Fatalf("build is %s, want TIMED-OUT:\n%s", b.Status, s.buildLog(t, b.ID))
	}
	noInstallPod(t, cs, ns, b.ID)
}

// TestKubernetesBuildPodServerCrash: a server killed during a build's
// install pod, started again on its data, ends the build FAILED and
// deletes the pod it left.
func TestKubernetesBuildPodServerCrash(t *testing.T) {
	flags, cs, ns := kubeFlags(t)
	dir := t.TempDir()
	args := append(flags, "--examples=false")
	a, err := launch(dir, args...)
	if err != nil {
		t.Fatal(err)
	}
	const script = `"install":"echo installing forever; node -e \"setInterval(() => {}, 1000)\""`
	b := a.buildOf(t, depActor(t, "", script), nil)
	a.waitBuildLog(t, b.ID, "installing forever")
	a.crash()
	if _, err := cs.CoreV1().Pods(ns).Get(testCtx(t), kubeexec.InstallPodName(b.ID), metav1.GetOptions{}); err != nil {
		t.Fatalf("install pod after the crash: %v", err)
	}

	again, err := launch(dir, args...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(again.stop)
	if b = again.finishBuild(t, b.ID); b.Status != client.StatusFailed {
		t.Fatalf("build is %s, want FAILED:\n%s", b.Status, again.buildLog(t, b.ID))
	}
	noInstallPod(t, cs, ns, b.ID)
}
