package e2e_test

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/troupehq/troupe/client"
	kubeexec "github.com/troupehq/troupe/executor/kubernetes"
	"github.com/troupehq/troupe/kubetest"
	"github.com/troupehq/troupe/pgtest"
)

// kubeServer starts `troupe serve --executor kubernetes` on the test
// cluster that scripts/kube-up started (KUBECONFIG, TROUPE_KUBE_SERVE_ARGS;
// scripts/test exports both). Without them the test fails under CI and is
// skipped elsewhere. It returns the server and a client of the cluster.
func kubeServer(t *testing.T) (*server, kubernetes.Interface, string) {
	t.Helper()
	flags, cs, ns := kubeFlags(t)
	s, err := launch(t.TempDir(), append(flags, "--examples=false")...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.stop)
	return s, cs, ns
}

// kubeFlags returns the flags of troupe serve for the test cluster, a
// client of the cluster and the pods' namespace.
func kubeFlags(t *testing.T) ([]string, kubernetes.Interface, string) {
	t.Helper()
	cfg, args := kubetest.Cluster(t)
	flags := strings.Fields(args)
	ns := "default"
	for i, f := range flags {
		if v, ok := strings.CutPrefix(f, "--namespace="); ok {
			ns = v
		} else if f == "--namespace" && i+1 < len(flags) {
			ns = flags[i+1]
		}
	}
	rc, err := clientcmd.BuildConfigFromFlags("", cfg)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		t.Fatal(err)
	}
	return append([]string{"--executor", "kubernetes", "--kubeconfig", cfg}, flags...), cs, ns
}

// nodeActor is an actor whose Dockerfile says FROM node:20: in a pod it
// pushes a dataset item through troupe's API with its own token, or with
// mode "tick" as input prints a line every 200 ms until it is stopped, and
// with mode "count" prints n=1 to n=N every 250 ms and ends.
var nodeActor = []client.SourceFile{
	{Name: "Dockerfile", Format: "TEXT", Content: "FROM node:20\nCOPY . ./\nCMD [\"node\", \"main.js\"]\n"},
	{Name: "main.js", Format: "TEXT", Content: `(async () => {
  const env = process.env;
  const headers = { Authorization: 'Bearer ' + env.APIFY_TOKEN, 'Content-Type': 'application/json' };
  const input = await fetch(env.APIFY_API_BASE_URL + '/v2/key-value-stores/' + env.ACTOR_DEFAULT_KEY_VALUE_STORE_ID + '/records/INPUT', { headers });
  const { mode, n } = input.ok ? await input.json() : {};
  if (mode === 'count') {
    let i = 0;
    const timer = setInterval(() => {
      console.log('n=' + ++i);
      if (i === n) {
        clearInterval(timer);
        console.log('counted');
      }
    }, 250);
    return;
  }
  if (mode === 'tick') {
    setInterval(() => console.log('tick'), 200);
    return;
  }
  console.log('node', process.version, 'in', process.cwd(), 'as uid', process.getuid());
  const res = await fetch(env.APIFY_API_BASE_URL + '/v2/datasets/' + env.ACTOR_DEFAULT_DATASET_ID + '/items', {
    method: 'POST', headers, body: JSON.stringify({ hello: 'from a pod', node: process.version, uid: process.getuid() }),
  });
  if (!res.ok) {
    console.error('push failed', res.status, await res.text());
    process.exit(1);
  }
  console.log('pushed');
})();
`},
}

// TestKubernetesRun: an actor built FROM node:20 runs as a pod, real
// Node.js, to SUCCEEDED with its dataset item; a running pod is aborted
// and gone.
func TestKubernetesRun(t *testing.T) {
	s, cs, ns := kubeServer(t)
	b := s.finishBuild(t, s.buildOf(t, nodeActor, nil).ID)
	if b.Status != client.StatusSucceeded {
		t.Fatalf("build %s:\n%s", b.Status, s.buildLog(t, b.ID))
	}
	ctx := testCtx(t)

	run, err := s.c.Actor(b.ActID).Start(ctx, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	run = s.finish(t, run.ID)
	if run.Status != client.StatusSucceeded {
		t.Fatalf("run is %s (%q); log:\n%s", run.Status, message(run), s.log(t, run.ID))
	}
	page, err := s.c.Run(run.ID).Dataset().ListItems(ctx, nil)
	if err != nil || len(page.Items) != 1 {
		t.Fatalf("dataset items: %+v, %v", page, err)
	}
	var item map[string]any
	if err := json.Unmarshal(page.Items[0], &item); err != nil {
		t.Fatal(err)
	}
	if item["hello"] != "from a pod" || !strings.HasPrefix(item["node"].(string), "v") || item["uid"] != float64(1000) {
		t.Errorf("item = %v, want one pushed by Node.js as uid 1000", item)
	}
	log := s.log(t, run.ID)
	if !strings.Contains(log, "in "+kubeexec.DefaultWorkDir+" as uid 1000") || !strings.Contains(log, "pushed") {
		t.Errorf("log lacks the program's lines:\n%s", log)
	}

	ticker, err := s.c.Actor(b.ActID).Start(ctx, []byte(`{"mode":"tick"}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	s.waitLog(t, ticker.ID, "tick")
	if _, err := s.c.Run(ticker.ID).Abort(ctx, false); err != nil {
		t.Fatal(err)
	}
	ticker = s.finish(t, ticker.ID)
	wantStatus(t, ticker, client.StatusAborted)
	pod, err := cs.CoreV1().Pods(ns).Get(ctx, kubeexec.PodName(ticker.ID, 1), metav1.GetOptions{})
	if err == nil && pod.DeletionTimestamp == nil {
		t.Errorf("pod %s of the aborted run is still there (%s)", pod.Name, pod.Status.Phase)
	} else if err != nil && !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
}

// TestKubernetesReplicaCrash: the replica that owns a run dies while the
// run's pod runs; another replica, sharing only the database, adopts the
// pod instead of starting the run again, and the run's log goes on where
// it was: every line once, those the dead replica read last included.
func TestKubernetesReplicaCrash(t *testing.T) {
	flags, _, _ := kubeFlags(t)
	url := pgtest.NewDatabase(t)
	replicaArgs := func(name string) []string {
		return append([]string{"--store", url, "--instance", name, "--lease-ttl", "2s", "--examples=false"}, flags...)
	}
	a, err := launch(t.TempDir(), replicaArgs("a")...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.stop)
	b, err := launch(t.TempDir(), replicaArgs("b")...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.stop)

	build := a.finishBuild(t, a.buildOf(t, nodeActor, nil).ID)
	if build.Status != client.StatusSucceeded {
		t.Fatalf("build %s:\n%s", build.Status, a.buildLog(t, build.ID))
	}
	const n = 40
	run, err := a.c.Actor(build.ActID).Start(testCtx(t), []byte(`{"mode":"count","n":40}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	a.waitLog(t, run.ID, "n=3")
	a.crash()

	done := b.finish(t, run.ID)
	wantStatus(t, done, client.StatusSucceeded)
	if done.Stats.MigrationCount != 0 || done.Stats.RestartCount != 0 {
		t.Errorf("migrationCount %d, restartCount %d: the run was started again", done.Stats.MigrationCount, done.Stats.RestartCount)
	}
	log := b.log(t, run.ID)
	seen := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(log), "\n") {
		if !logLine.MatchString(line) {
			t.Fatalf("log line without a timestamp: %q", line)
		}
		seen[line[len("2006-01-02T15:04:05.000Z "):]]++
	}
	for i := 1; i <= n; i++ {
		if c := seen["n="+strconv.Itoa(i)]; c != 1 {
			t.Errorf("line n=%d is in the log %d times, want once", i, c)
		}
	}
	if seen["counted"] != 1 {
		t.Errorf("the last line is in the log %d times, want once:\n%s", seen["counted"], log)
	}
	for line := range seen {
		if strings.HasPrefix(line, "[troupe] Starting") {
			t.Errorf("the run's process was started again: %q", line)
		}
	}
}

// TestKubernetesServerRestart: a server stopped with SIGTERM leaves its
// runs' pods running (no migration), and when it starts again it adopts
// them: the run ends SUCCEEDED without a restart, its log whole (every
// line once).
func TestKubernetesServerRestart(t *testing.T) {
	flags, _, _ := kubeFlags(t)
	dir := t.TempDir()
	args := append([]string{"--examples=false"}, flags...)
	s, err := launch(dir, args...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.stop)
	build := s.finishBuild(t, s.buildOf(t, nodeActor, nil).ID)
	if build.Status != client.StatusSucceeded {
		t.Fatalf("build %s:\n%s", build.Status, s.buildLog(t, build.ID))
	}
	run, err := s.c.Actor(build.ActID).Start(testCtx(t), []byte(`{"mode":"count","n":30}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	s.waitLog(t, run.ID, "n=3")
	s.stop()

	again, err := launch(dir, args...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(again.stop)
	done := again.finish(t, run.ID)
	wantStatus(t, done, client.StatusSucceeded)
	if done.Stats.MigrationCount != 0 || done.Stats.RestartCount != 0 {
		t.Errorf("migrationCount %d, restartCount %d: the run was started again", done.Stats.MigrationCount, done.Stats.RestartCount)
	}
	log := again.log(t, run.ID)
	for i := 1; i <= 30; i++ {
		if c := strings.Count(log, " n="+strconv.Itoa(i)+"\n"); c != 1 {
			t.Errorf("line n=%d is in the log %d times, want once", i, c)
		}
	}
	if !strings.Contains(log, " n=30\n") || strings.Contains(log, "migrate") {
		t.Errorf("log after the restart:\n%s", log)
	}
}
