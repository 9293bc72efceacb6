package kubernetes_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/troupehq/troupe"
	"github.com/troupehq/troupe/executor/executortest"
	kubeexec "github.com/troupehq/troupe/executor/kubernetes"
	"github.com/troupehq/troupe/internal/artifact"
	"github.com/troupehq/troupe/kubetest"
)

// cluster is the test cluster that scripts/kube-up started: its client and
// the flags troupe serve needs for it.
type cluster struct {
	client      kubernetes.Interface
	namespace   string
	imageMap    map[string]string
	initImage   string
	hostNetwork bool
}

// startDelay is how long a pod may take to start on the test cluster.
const startDelay = 2 * time.Minute

// testCluster connects to the cluster named by KUBECONFIG and
// TROUPE_KUBE_SERVE_ARGS (what scripts/test exports after scripts/kube-up).
// Without them the test fails under CI and is skipped elsewhere.
func testCluster(t *testing.T) *cluster {
	t.Helper()
	cfgPath, args := kubetest.Cluster(t)
	c := &cluster{}
	var maps []string
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	fs.ParseErrorsAllowlist.UnknownFlags = true
	fs.StringVar(&c.namespace, "namespace", "", "")
	fs.StringArrayVar(&maps, "image-map", nil, "")
	fs.StringVar(&c.initImage, "kube-init-image", "", "")
	fs.BoolVar(&c.hostNetwork, "kube-host-network", false, "")
	fs.String("executor", "", "")
	fs.String("kubeconfig", "", "")
	if err := fs.Parse(strings.Fields(args)); err != nil {
		t.Fatalf("TROUPE_KUBE_SERVE_ARGS: %v", err)
	}
	c.imageMap = map[string]string{}
	for _, kv := range maps {
		from, to, _ := strings.Cut(kv, "=")
		c.imageMap[from] = to
	}
	if c.initImage == "" {
		t.Fatal("TROUPE_KUBE_SERVE_ARGS has no --kube-init-image")
	}
	loader := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(
		&clientcmd.ClientConfigLoadingRules{ExplicitPath: cfgPath}, &clientcmd.ConfigOverrides{})
	rc, err := loader.ClientConfig()
	if err != nil {
		t.Fatal(err)
	}
	if c.namespace == "" {
		c.namespace, _, _ = loader.Namespace()
	}
	if c.client, err = kubernetes.NewForConfig(rc); err != nil {
		t.Fatal(err)
	}
	return c
}

func (c *cluster) executor(t *testing.T, apiURL string) *kubeexec.Executor {
	t.Helper()
	ex, err := kubeexec.New(kubeexec.Options{Client: c.client, Namespace: c.namespace, APIURL: apiURL,
		InitImage: c.initImage, ImageMap: c.imageMap, HostNetwork: c.hostNetwork, Instance: "test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ex.Close)
	return ex
}

// TestConformance runs the executor suite with pods on the test cluster,
// in the init container's busybox image (it has sh and the coreutils the
// suite uses).
func TestConformance(t *testing.T) {
	c := testCluster(t)
	executortest.RunWith(t, executortest.Options{
		Remote: true, NoStats: true, StartDelay: startDelay,
		Prepare: func(s *troupe.ExecSpec) { s.Image = c.initImage },
	}, func(t *testing.T) troupe.Executor { return c.executor(t, "http://127.0.0.1:1") })
}

// TestBuildArchive: the init container fetches the build's archive from
// troupe's API with the run's token, checks its digest and unpacks it into
// the folder the program starts in; an archive whose digest differs is
// refused, and the run fails saying why.
func TestBuildArchive(t *testing.T) {
	c := testCluster(t)
	if !c.hostNetwork {
		t.Fatal("this test serves the archive on loopback; the test cluster must run pods with --kube-host-network")
	}
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "hello.txt"), []byte("hello from the build\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var archive bytes.Buffer
	if err := artifact.Pack(src, &archive); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(archive.Bytes())
	digest := hex.EncodeToString(sum[:])
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v2/actor-builds/b1/artifact" || r.Header.Get("Authorization") != "Bearer tok_run" {
			http.Error(w, "no", http.StatusForbidden)
			return
		}
		_, _ = w.Write(archive.Bytes())
	}))
	t.Cleanup(api.Close)
	ex := c.executor(t, api.URL)

	start := func(runID, digest, token string, out *executortest.Output) troupe.Process {
		p, err := ex.Start(t.Context(), &troupe.ExecSpec{
			RunID: runID, Generation: 1, BuildID: "b1", Artifact: digest, Image: c.initImage,
			Command: []string{"sh", "-c", "pwd; cat hello.txt; touch new && echo writable"},
			Env:     []string{"PATH=/usr/local/bin:/usr/bin:/bin", "APIFY_TOKEN=" + token}, Output: out.Func,
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = p.Kill() })
		return p
	}
	runID := "archive" + troupe.NewID()[:6]
	out := executortest.NewOutput(t, "")
	p := start(runID+"ok", digest, "tok_run", out)
	if got := executortest.WaitDone(t, p, startDelay); got != (troupe.ExitStatus{}) {
		t.Errorf("Exit() = %+v, want code 0; output %q", got, out.Lines())
	}
	if want := []string{ex.WorkDir(), "hello from the build", "writable"}; !slices.Equal(out.Lines(), want) {
		t.Errorf("output = %q, want %q", out.Lines(), want)
	}

	for name, tc := range map[string]struct{ digest, token, want string }{
		"WrongDigest": {strings.Repeat("0", 64), "tok_run", "The pod could not fetch the build's archive: the archive's sha256 is " + digest},
		"WrongToken":  {digest, "tok_other", "The pod could not fetch the build's archive: wget: server returned error: HTTP/1.1 403 Forbidden"},
	} {
		t.Run(name, func(t *testing.T) {
			out := executortest.NewOutput(t, "")
			p := start(strings.ToLower(name)+runID, tc.digest, tc.token, out)
			got := executortest.WaitDone(t, p, startDelay)
			if !strings.HasPrefix(got.Failure, tc.want) || got.Code != -1 {
				t.Errorf("Exit() = %+v, want a failure starting %q", got, tc.want)
			}
			if lines := out.Lines(); len(lines) != 0 {
				t.Errorf("the program ran: %q", lines)
			}
		})
	}
}

// TestImageMissing: a pod whose image the cluster cannot pull ends with a
// failure naming the image, and the program never runs.
func TestImageMissing(t *testing.T) {
	c := testCluster(t)
	ex := c.executor(t, "http://127.0.0.1:1")
	out := executortest.NewOutput(t, "")
	p, err := ex.Start(t.Context(), &troupe.ExecSpec{
		RunID: "noimage" + troupe.NewID()[:6], Generation: 1, Image: "docker.io/troupe-local/missing:1",
		Command: []string{"sh", "-c", "echo ran"}, Env: executortest.Env, Output: out.Func,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Kill() })
	got := executortest.WaitDone(t, p, startDelay)
	if want := "The cluster could not pull the image docker.io/troupe-local/missing:1 ("; !strings.HasPrefix(got.Failure, want) {
		t.Errorf("Exit() = %+v, want a failure starting %q", got, want)
	}
	if lines := out.Lines(); len(lines) != 0 {
		t.Errorf("output %q from a pod without its image", lines)
	}
}
