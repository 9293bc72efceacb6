package e2e_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"

	"github.com/troupehq/troupe/client"
	kubeexec "github.com/troupehq/troupe/executor/kubernetes"
	"github.com/troupehq/troupe/pgtest"
)

// kubePods returns the troupe serve flags of the test cluster (see
// kubeFlags) and the pods of its namespace.
func kubePods(t *testing.T) ([]string, typedcorev1.PodInterface) {
	t.Helper()
	flags, cs, ns := kubeFlags(t)
	return flags, cs.CoreV1().Pods(ns)
}

// runPods lists the pods of a run (every generation).
func runPods(t *testing.T, pods typedcorev1.PodInterface, runID string) []corev1.Pod {
	t.Helper()
	list, err := pods.List(testCtx(t), metav1.ListOptions{LabelSelector: kubeexec.LabelRun + "=" + runID})
	if err != nil {
		t.Fatalf("list the pods of run %s: %v", runID, err)
	}
	return list.Items
}

// cleanUpPods deletes the run's pods when the test ends, so that a failed
// test leaves nothing on the cluster (servers leave their pods running).
func cleanUpPods(t *testing.T, pods typedcorev1.PodInterface, runID string) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = pods.DeleteCollection(ctx, metav1.DeleteOptions{},
			metav1.ListOptions{LabelSelector: kubeexec.LabelRun + "=" + runID})
	})
}

// onePod asserts that the run has exactly one pod and returns it.
func onePod(t *testing.T, pods typedcorev1.PodInterface, runID string) corev1.Pod {
	t.Helper()
	list := runPods(t, pods, runID)
	if len(list) != 1 {
		names := make([]string, len(list))
		for i, p := range list {
			names[i] = p.Name
		}
		t.Fatalf("run %s has %d pods, want 1: %v", runID, len(list), names)
	}
	return list[0]
}

// gatedActorJS is an actor that counts its starts in the STARTS record of
// its store, logs "started N in DIR", waits until the record FINISH exists,
// stores {starts, finish} as OUTPUT and exits 0. It rides out an API that
// cannot be reached for a while (the replica its requests went to died).
const gatedActorJS = `const env = process.env;
const records = env.APIFY_API_BASE_URL + '/v2/key-value-stores/' + env.ACTOR_DEFAULT_KEY_VALUE_STORE_ID + '/records/';
const auth = { authorization: 'Bearer ' + env.APIFY_TOKEN };
const json = { ...auth, 'content-type': 'application/json' };
const pause = () => new Promise((r) => setTimeout(r, 200));
async function put(key, value) {
    for (;;) {
        try {
            const res = await fetch(records + key, { method: 'PUT', headers: json, body: JSON.stringify(value) });
            if (res.ok) return;
        } catch {}
        await pause();
    }
}
(async () => {
    const res = await fetch(records + 'STARTS', { headers: auth });
    if (!res.ok && res.status !== 404) { console.error('STARTS:', res.status); process.exit(2); }
    const starts = (res.ok ? (await res.json()).n : 0) + 1;
    await put('STARTS', { n: starts });
    console.log('started ' + starts + ' in ' + process.cwd());
    let finish;
    while (!finish) {
        try {
            const r = await fetch(records + 'FINISH', { headers: auth });
            if (r.ok) finish = await r.json();
        } catch {}
        if (!finish) await pause();
    }
    await put('OUTPUT', { starts, finish });
    console.log('finished');
})();
`

// buildGated has s build an actor running gatedActorJS, FROM node:20, and
// returns its successful build.
func (s *server) buildGated(t *testing.T) *client.Build {
	t.Helper()
	b := s.finishBuild(t, s.buildOf(t, []client.SourceFile{
		{Name: "Dockerfile", Format: "TEXT", Content: "FROM node:20\nCOPY . ./\nCMD [\"node\", \"main.js\"]\n"},
		{Name: "main.js", Format: "TEXT", Content: gatedActorJS},
	}, nil).ID)
	if b.Status != client.StatusSucceeded {
		t.Fatalf("build %s: %s\n%s", b.ID, b.Status, s.buildLog(t, b.ID))
	}
	return b
}

// frontDoor is to pods what a Service over all replicas is in a cluster:
// one URL (every replica's --public-url) that reaches the replica it points
// at, so a run's pod still reaches the API when its replica is gone.
type frontDoor struct {
	URL    string
	target atomic.Pointer[url.URL]
}

func newFrontDoor(t *testing.T) *frontDoor {
	fd := &frontDoor{}
	srv := httptest.NewServer(&httputil.ReverseProxy{
		Rewrite:       func(r *httputil.ProxyRequest) { r.SetURL(fd.target.Load()) },
		FlushInterval: -1,
		ErrorHandler:  func(w http.ResponseWriter, _ *http.Request, _ error) { w.WriteHeader(http.StatusBadGateway) },
	})
	t.Cleanup(srv.Close)
	fd.URL = srv.URL
	return fd
}

// to points the front door at s.
func (fd *frontDoor) to(t *testing.T, s *server) {
	u, err := url.Parse(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	fd.target.Store(u)
}

// kubeReplica starts a replica on the database url whose runs are pods
// (flags from kubeFlags); they reach the API through fd, or the replica itself
// when fd is nil. Its own client talks to it directly.
func kubeReplica(t *testing.T, flags []string, url, name string, fd *frontDoor) *server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	args := append([]string{"--listen", addr, "--examples=false"}, flags...)
	if fd != nil {
		args = append(args, "--public-url", fd.URL)
	}
	s := replica(t, url, t.TempDir(), name, args...)
	s.URL = "http://" + addr
	s.c = client.New(client.WithBaseURL(s.URL), client.WithToken(testToken), client.WithMaxRetries(2),
		client.WithMinRetryDelay(50*time.Millisecond))
	return s
}

// TestKubeReplicaDiesItsPodIsAdopted: two replicas on one PostgreSQL run
// their runs as pods. The replica that owns a running run is killed with
// SIGKILL; the other one takes the run over, adopts its pod (the same pod,
// never started again: the actor counts its starts in its store) and ends
// the run SUCCEEDED with the output of that one start.
func TestKubeReplicaDiesItsPodIsAdopted(t *testing.T) {
	t.Parallel()
	flags, pods := kubePods(t)
	url, fd := pgtest.NewDatabase(t), newFrontDoor(t)
	a := kubeReplica(t, flags, url, "kube-adopt-a", fd)
	fd.to(t, a)
	b := kubeReplica(t, flags, url, "kube-adopt-b", fd)
	build := a.buildGated(t)
	ctx := testCtx(t)

	run, err := a.c.Actor(build.ActID).Start(ctx, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	cleanUpPods(t, pods, run.ID)
	a.waitLog(t, run.ID, "started 1 in /usr/src/app")
	before := onePod(t, pods, run.ID)
	if got := before.Annotations[kubeexec.AnnotationInstance]; got != "kube-adopt-a" {
		t.Errorf("pod created by %q, want kube-adopt-a", got)
	}

	a.crash()
	fd.to(t, b)
	// b adopts the pod once a's lease expired, says so in the run's log,
	// and counts the process and the takeover.
	b.waitLog(t, run.ID, "troupe instance kube-adopt-b took over the run and follows its process")
	m := b.scrapeMetrics(t)
	if m["troupe_run_processes"] != 1 || m["troupe_run_takeovers_total"] != 1 {
		t.Errorf("b counts %v processes and %v takeovers, want 1 and 1", m["troupe_run_processes"], m["troupe_run_takeovers_total"])
	}
	after := onePod(t, pods, run.ID)
	if after.UID != before.UID {
		t.Fatalf("the run's pod was replaced: %s (uid %s), then %s (uid %s)", before.Name, before.UID, after.Name, after.UID)
	}
	if after.Status.Phase != corev1.PodRunning {
		t.Fatalf("the run's pod is %s after the takeover, want Running", after.Status.Phase)
	}

	if err := b.c.Run(run.ID).KeyValueStore().SetRecord(ctx, "FINISH", []byte(`{"by":"b"}`), "application/json"); err != nil {
		t.Fatal(err)
	}
	done := b.finish(t, run.ID)
	wantStatus(t, done, client.StatusSucceeded)
	if done.Stats.MigrationCount != 0 {
		t.Errorf("migrationCount %d: the run was restarted, not adopted", done.Stats.MigrationCount)
	}
	out := b.record(t, run.ID, "OUTPUT")
	if out["starts"] != 1.0 || out["finish"].(map[string]any)["by"] != "b" {
		t.Errorf("OUTPUT = %v, want one start that saw FINISH", out)
	}
	if starts := b.record(t, run.ID, "STARTS"); starts["n"] != 1.0 {
		t.Errorf("STARTS = %v, want n 1", starts)
	}
	b.waitLog(t, run.ID, "finished")
	if log := b.log(t, run.ID); strings.Count(log, "started ") != 1 {
		t.Errorf("the log shows %d starts, want 1:\n%s", strings.Count(log, "started "), log)
	}
}

// TestKubeBuildRunsOnAnotherReplica: replicas that share only the
// database, runs as pods. A builds an actor and stops, its data folder
// removed; a run started through B is a pod that B created, whose init
// container fetched the build's archive through B's API.
func TestKubeBuildRunsOnAnotherReplica(t *testing.T) {
	t.Parallel()
	flags, pods := kubePods(t)
	url := pgtest.NewDatabase(t)
	a := kubeReplica(t, flags, url, "kube-build-a", nil)
	build := a.buildGated(t)
	a.stop()
	if err := os.RemoveAll(a.DataDir); err != nil {
		t.Fatal(err)
	}
	b := kubeReplica(t, flags, url, "kube-build-b", nil)
	ctx := testCtx(t)

	run, err := b.c.Actor(build.ActID).Start(ctx, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	cleanUpPods(t, pods, run.ID)
	if run.BuildID != build.ID {
		t.Fatalf("run of build %s, want %s", run.BuildID, build.ID)
	}
	b.waitLog(t, run.ID, "started 1 in /usr/src/app")
	pod := onePod(t, pods, run.ID)
	if got := pod.Annotations[kubeexec.AnnotationInstance]; got != "kube-build-b" {
		t.Errorf("pod created by %q, want kube-build-b", got)
	}
	if got := pod.Labels[kubeexec.LabelBuild]; got != build.ID {
		t.Errorf("pod of build %q, want %s", got, build.ID)
	}
	if got := pod.Annotations[kubeexec.AnnotationImage]; got != "node:20" {
		t.Errorf("pod's Dockerfile image %q, want node:20", got)
	}

	if err := b.c.Run(run.ID).KeyValueStore().SetRecord(ctx, "FINISH", []byte(`{"by":"test"}`), "application/json"); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, b.finish(t, run.ID), client.StatusSucceeded)
	if out := b.record(t, run.ID, "OUTPUT"); out["starts"] != 1.0 {
		t.Errorf("OUTPUT = %v", out)
	}
}
