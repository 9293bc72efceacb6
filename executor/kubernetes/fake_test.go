package kubernetes

import (
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/troupehq/troupe"
)

const testNS = "runs"

func newFake(t *testing.T) (*Executor, *fake.Clientset) {
	t.Helper()
	cs := fake.NewClientset()
	e, err := New(Options{Client: cs, Namespace: testNS, APIURL: "http://10.0.0.1:8700/", InitImage: "busybox:1",
		ImageMap: map[string]string{"node:20": "mirror.example/node:20"}, HostNetwork: true, Instance: "replica-a"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	return e, cs
}

func testSpec() *troupe.ExecSpec {
	return &troupe.ExecSpec{
		RunID: "Run1abc", Generation: 2, ActorID: "act1", BuildID: "bld1", Artifact: strings.Repeat("ab", 32),
		Image: "docker.io/library/node:20", Command: []string{"node", "main.js"},
		Env:          []string{"PATH=/usr/bin:/bin", "APIFY_TOKEN=tok_run", "EMPTY=", "broken"},
		MemoryMbytes: 1024,
	}
}

func TestPodSpec(t *testing.T) {
	e, _ := newFake(t)
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	spec := testSpec()
	spec.Deadline = now.Add(90*time.Second + 300*time.Millisecond)
	pod, err := e.podFor(spec, now)
	if err != nil {
		t.Fatal(err)
	}
	if pod.Name != PodName("Run1abc", 2) || !strings.HasPrefix(pod.Name, "troupe-run1abc-2-") {
		t.Errorf("name = %q", pod.Name)
	}
	wantLabels := map[string]string{LabelManagedBy: "troupe", LabelRun: "Run1abc", LabelGeneration: "2", LabelActor: "act1", LabelBuild: "bld1"}
	for k, v := range wantLabels {
		if pod.Labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, pod.Labels[k], v)
		}
	}
	if pod.Annotations[AnnotationRun] != "Run1abc" || pod.Annotations[AnnotationInstance] != "replica-a" ||
		pod.Annotations[AnnotationImage] != "docker.io/library/node:20" {
		t.Errorf("annotations = %v", pod.Annotations)
	}
	ps := pod.Spec
	if ps.RestartPolicy != corev1.RestartPolicyNever || !ps.HostNetwork || *ps.AutomountServiceAccountToken || *ps.EnableServiceLinks {
		t.Errorf("pod spec: restart %s hostNetwork %v token %v links %v", ps.RestartPolicy, ps.HostNetwork,
			*ps.AutomountServiceAccountToken, *ps.EnableServiceLinks)
	}
	if ps.ShareProcessNamespace == nil || !*ps.ShareProcessNamespace {
		t.Error("the pod's containers do not share a process namespace: the program would be pid 1, which ignores SIGTERM without a handler")
	}
	if ps.ActiveDeadlineSeconds == nil || *ps.ActiveDeadlineSeconds != 91 {
		t.Errorf("activeDeadlineSeconds = %v, want 91", ps.ActiveDeadlineSeconds)
	}
	if len(ps.Containers) != 1 || len(ps.InitContainers) != 1 {
		t.Fatalf("%d containers, %d init containers", len(ps.Containers), len(ps.InitContainers))
	}
	c := ps.Containers[0]
	if c.Image != "mirror.example/node:20" {
		t.Errorf("image = %q, want the mapped one", c.Image)
	}
	wantArgv := []string{"env", "-i", "PATH=/usr/bin:/bin", "APIFY_TOKEN=tok_run", "EMPTY=", "node", "main.js"}
	if !slices.Equal(c.Command, wantArgv) || len(c.Args) != 0 || len(c.Env) != 0 {
		t.Errorf("command = %q args %q env %v, want %q", c.Command, c.Args, c.Env, wantArgv)
	}
	if c.WorkingDir != DefaultWorkDir {
		t.Errorf("workingDir = %q", c.WorkingDir)
	}
	mem, cpu := resource.MustParse("1Gi"), resource.MustParse("250m")
	for what, list := range map[string]corev1.ResourceList{"requests": c.Resources.Requests, "limits": c.Resources.Limits} {
		if q := list[corev1.ResourceMemory]; q.Cmp(mem) != 0 {
			t.Errorf("%s memory = %s, want 1Gi", what, q.String())
		}
		if q := list[corev1.ResourceCPU]; q.Cmp(cpu) != 0 {
			t.Errorf("%s cpu = %s, want 250m", what, q.String())
		}
	}
	for _, ct := range append(ps.InitContainers, c) {
		sc := ct.SecurityContext
		if sc == nil || !*sc.RunAsNonRoot || *sc.RunAsUser == 0 || !*sc.ReadOnlyRootFilesystem || *sc.AllowPrivilegeEscalation ||
			*sc.Privileged || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) {
			t.Errorf("container %s security context = %+v", ct.Name, sc)
		}
		var paths []string
		for _, m := range ct.VolumeMounts {
			paths = append(paths, m.MountPath)
		}
		if !slices.Equal(paths, []string{DefaultWorkDir, "/tmp"}) {
			t.Errorf("container %s mounts %q", ct.Name, paths)
		}
	}
	init := ps.InitContainers[0]
	env := map[string]string{}
	for _, v := range init.Env {
		env[v.Name] = v.Value
	}
	if init.Image != "busybox:1" || env["APIFY_TOKEN"] != "tok_run" || env["TROUPE_ARTIFACT_SHA256"] != spec.Artifact ||
		env["TROUPE_ARTIFACT_URL"] != "http://10.0.0.1:8700/v2/actor-builds/bld1/artifact" {
		t.Errorf("init container %s env %v", init.Image, env)
	}
	if init.TerminationMessagePolicy != corev1.TerminationMessageFallbackToLogsOnError {
		t.Errorf("init termination message policy = %s", init.TerminationMessagePolicy)
	}

	// No memory limit: no resources; no archive: no init container.
	spec.MemoryMbytes, spec.Artifact, spec.Deadline = 0, "", time.Time{}
	pod, err = e.podFor(spec, now)
	if err != nil {
		t.Fatal(err)
	}
	if r := pod.Spec.Containers[0].Resources; len(r.Limits) != 0 || len(r.Requests) != 0 {
		t.Errorf("resources without a memory limit = %+v", r)
	}
	if len(pod.Spec.InitContainers) != 0 || pod.Spec.ActiveDeadlineSeconds != nil {
		t.Errorf("init containers %d, deadline %v; want none", len(pod.Spec.InitContainers), pod.Spec.ActiveDeadlineSeconds)
	}
}

func TestImageMap(t *testing.T) {
	e, _ := newFake(t)
	for from, want := range map[string]string{
		"node:20":                   "mirror.example/node:20",
		"docker.io/library/node:20": "mirror.example/node:20",
		"library/node:20":           "mirror.example/node:20",
		"node:22":                   "node:22",
		"apify/actor-node:20":       "apify/actor-node:20",
	} {
		if got := e.Image(from); got != want {
			t.Errorf("Image(%q) = %q, want %q", from, got, want)
		}
	}
	if _, err := New(Options{Client: fake.NewClientset(), Namespace: "x", InitImage: "b", ImageMap: map[string]string{"Bad Name": "x"}}); err == nil {
		t.Error("New accepted an image map with an invalid image")
	}
}

func TestPodName(t *testing.T) {
	a, b := PodName("AbC", 1), PodName("abc", 1)
	if a == b {
		t.Errorf("run ids differing in case share pod name %q", a)
	}
	if n := PodName(strings.Repeat("X", 200), 12345); len(n) > 63 {
		t.Errorf("pod name %q is %d long", n, len(n))
	}
}

// setStatus replaces the pod's status in the fake cluster, as the kubelet
// would.
func setStatus(t *testing.T, cs *fake.Clientset, name string, fn func(*corev1.PodStatus)) {
	t.Helper()
	pod, err := cs.CoreV1().Pods(testNS).Get(t.Context(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	fn(&pod.Status)
	if _, err := cs.CoreV1().Pods(testNS).UpdateStatus(t.Context(), pod, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func terminatedMain(code int32, reason string) func(*corev1.PodStatus) {
	return func(s *corev1.PodStatus) {
		s.Phase = corev1.PodFailed
		s.ContainerStatuses = []corev1.ContainerStatus{{Name: mainContainer,
			State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: code, Reason: reason}}}}
	}
}

func waitDone(t *testing.T, p troupe.Process) troupe.ExitStatus {
	t.Helper()
	select {
	case <-p.Done():
		return p.Exit()
	case <-time.After(10 * time.Second):
		t.Fatal("process did not end")
		return troupe.ExitStatus{}
	}
}

func TestStatusMapping(t *testing.T) {
	cases := []struct {
		name   string
		status func(*corev1.PodStatus)
		want   troupe.ExitStatus
	}{
		{"Exit0", terminatedMain(0, "Completed"), troupe.ExitStatus{}},
		{"Exit3", terminatedMain(3, "Error"), troupe.ExitStatus{Code: 3}},
		{"Signal", terminatedMain(143, "Error"), troupe.ExitStatus{Code: -1, Signal: "SIGTERM"}},
		{"OOMKilled", terminatedMain(137, "OOMKilled"), troupe.ExitStatus{Code: -1, Signal: "SIGKILL", OutOfMemory: true}},
		{"Evicted", func(s *corev1.PodStatus) {
			terminatedMain(137, "Error")(s)
			s.Reason = "Evicted"
		}, troupe.ExitStatus{Code: -1, Lost: true}},
		{"ImagePull", func(s *corev1.PodStatus) {
			s.ContainerStatuses = []corev1.ContainerStatus{{Name: mainContainer,
				State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ImagePullBackOff"}}}}
		}, troupe.ExitStatus{Code: -1, Failure: "The cluster could not pull the image mirror.example/node:20 (ImagePullBackOff); map it to one the cluster has with troupe serve --image-map."}},
		{"ArchiveRefused", func(s *corev1.PodStatus) {
			s.Phase = corev1.PodFailed
			s.InitContainerStatuses = []corev1.ContainerStatus{{Name: initContainer, State: corev1.ContainerState{
				Terminated: &corev1.ContainerStateTerminated{ExitCode: 1, Message: "Connecting to 10.0.0.1\nwget: server returned error: HTTP/1.1 403 Forbidden\n"}}}}
		}, troupe.ExitStatus{Code: -1, Failure: "The pod could not fetch the build's archive: wget: server returned error: HTTP/1.1 403 Forbidden"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e, cs := newFake(t)
			p, err := e.Start(t.Context(), testSpec())
			if err != nil {
				t.Fatal(err)
			}
			name := PodName("Run1abc", 2)
			setStatus(t, cs, name, tc.status)
			if got := waitDone(t, p); got != tc.want {
				t.Errorf("Exit() = %+v, want %+v", got, tc.want)
			}
			waitGone(t, cs, name)
		})
	}
}

// TestCloseWaitsForDeletion: a server that stops right after a process
// ended still deletes its pod (Close waits for the deletion), so no
// finished pod is left behind.
func TestCloseWaitsForDeletion(t *testing.T) {
	cs := fake.NewClientset()
	e, err := New(Options{Client: cs, Namespace: testNS, InitImage: "busybox:1"})
	if err != nil {
		t.Fatal(err)
	}
	// The deletion goes through once the server closes, not before.
	cs.PrependReactor("delete", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
		<-e.ctx.Done()
		return false, nil, nil
	})
	p, err := e.Start(t.Context(), testSpec())
	if err != nil {
		t.Fatal(err)
	}
	name := PodName("Run1abc", 2)
	setStatus(t, cs, name, terminatedMain(0, "Completed"))
	waitDone(t, p)
	e.Close()
	if _, err := cs.Tracker().Get(corev1.SchemeGroupVersion.WithResource("pods"), testNS, name); !apierrors.IsNotFound(err) {
		t.Errorf("after Close, the finished pod is still there (%v)", err)
	}
}

// waitGone waits until the pod is deleted from the fake cluster.
func waitGone(t *testing.T, cs *fake.Clientset, name string) {
	t.Helper()
	w, err := cs.CoreV1().Pods(testNS).Watch(t.Context(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	if _, err := cs.CoreV1().Pods(testNS).Get(t.Context(), name, metav1.GetOptions{}); err != nil {
		return
	}
	timer := time.NewTimer(10 * time.Second)
	defer timer.Stop()
	for {
		select {
		case ev := <-w.ResultChan():
			if pod, ok := ev.Object.(*corev1.Pod); ok && ev.Type == "DELETED" && pod.Name == name {
				return
			}
		case <-timer.C:
			t.Fatalf("pod %s was not deleted", name)
		}
	}
}

func TestKillAndDeletion(t *testing.T) {
	t.Run("Kill", func(t *testing.T) {
		e, cs := newFake(t)
		p, err := e.Start(t.Context(), testSpec())
		if err != nil {
			t.Fatal(err)
		}
		select {
		case <-p.Done():
			t.Fatal("Done before Kill")
		default:
		}
		if err := p.Kill(); err != nil {
			t.Fatal(err)
		}
		if got := waitDone(t, p); got != (troupe.ExitStatus{Code: -1, Signal: "SIGKILL"}) {
			t.Errorf("Exit() = %+v, want SIGKILL", got)
		}
		if _, err := cs.CoreV1().Pods(testNS).Get(t.Context(), PodName("Run1abc", 2), metav1.GetOptions{}); err == nil {
			t.Error("pod still exists after Kill")
		}
		if err := p.Kill(); err != nil {
			t.Errorf("second Kill: %v", err)
		}
	})
	t.Run("DeletedByOthers", func(t *testing.T) {
		e, cs := newFake(t)
		p, err := e.Start(t.Context(), testSpec())
		if err != nil {
			t.Fatal(err)
		}
		if err := cs.CoreV1().Pods(testNS).Delete(t.Context(), PodName("Run1abc", 2), metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		if got := waitDone(t, p); got != (troupe.ExitStatus{Code: -1, Lost: true}) {
			t.Errorf("Exit() = %+v, want Lost", got)
		}
	})
}

func TestAdopt(t *testing.T) {
	e, cs := newFake(t)
	// An earlier server left generations 1 and 2 of the run.
	for _, gen := range []int{1, 2} {
		spec := testSpec()
		spec.Generation = gen
		pod, err := e.podFor(spec, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cs.CoreV1().Pods(testNS).Create(t.Context(), pod, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	other, err := New(Options{Client: cs, Namespace: testNS, InitImage: "busybox:1"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(other.Close)
	p, err := other.Adopt(t.Context(), testSpec(), 0)
	if err != nil || p == nil {
		t.Fatalf("Adopt = %v, %v; want the pod of generation 2", p, err)
	}
	waitGone(t, cs, PodName("Run1abc", 1))
	select {
	case <-p.Done():
		t.Fatal("adopted process ended at once")
	default:
	}
	setStatus(t, cs, PodName("Run1abc", 2), terminatedMain(7, "Error"))
	if got := waitDone(t, p); got != (troupe.ExitStatus{Code: 7}) {
		t.Errorf("Exit() = %+v, want code 7", got)
	}
	// Nothing left to adopt.
	spec := testSpec()
	spec.Generation = 3
	if p, err := other.Adopt(t.Context(), spec, 0); err != nil || p != nil {
		t.Errorf("Adopt without a pod = %v, %v; want nil, nil", p, err)
	}
}

func TestStartWithoutImage(t *testing.T) {
	e, _ := newFake(t)
	spec := testSpec()
	spec.Image = ""
	_, err := e.Start(t.Context(), spec)
	if troupe.ErrorType(err) != troupe.ErrInvalidInput {
		t.Errorf("Start without an image: %v, want %s", err, troupe.ErrInvalidInput)
	}
}

func TestLineReader(t *testing.T) {
	var got []string
	r := &lineReader{emit: func(s string) { got = append(got, s) }}
	// stderr lines may be stamped before the stdout line before them.
	stream1 := "2026-03-01T12:00:01.3Z one\n2026-03-01T12:00:01.2Z err one\n2026-03-01T12:00:02.2Z two\n" +
		"2026-03-01T12:00:02.2Z two again\n2026-03-01T12:00:02.1Z err two\n"
	if err := r.read(strings.NewReader(stream1)); err != nil && err.Error() != "EOF" {
		t.Fatal(err)
	}
	if at := r.resumeAt(); !at.Equal(time.Date(2026, 3, 1, 12, 0, 1, 0, time.UTC)) {
		t.Errorf("resumeAt = %v, want a second before the newest line's second", at)
	}
	// The resumed stream (lines stamped from 12:00:01 on) repeats those
	// five lines: only the new ones are delivered, and a line without a
	// newline still arrives.
	stream2 := stream1 + "2026-03-01T12:00:02.2Z three\n2026-03-01T12:00:01.9Z err late\n2026-03-01T12:00:03Z   spaced  \n2026-03-01T12:00:04Z last"
	_ = r.read(strings.NewReader(stream2))
	want := []string{"one", "err one", "two", "two again", "err two", "three", "err late", "  spaced  ", "last"}
	if !slices.Equal(got, want) {
		t.Errorf("lines = %q, want %q", got, want)
	}

	// Adopted: an earlier server stored the first three lines. Their
	// stamps say nothing of it: "err one" is stamped before "one", and
	// "two again" in the same millisecond as "two", which it did not store.
	got = nil
	r = &lineReader{adopted: 3, emit: func(s string) { got = append(got, s) }}
	_ = r.read(strings.NewReader(stream1[:strings.Index(stream1, "2026-03-01T12:00:02.2Z two again")]))
	if want := []string{}; !slices.Equal(got, want) && got != nil {
		t.Errorf("adopted lines of a stream cut early = %q, want none", got)
	}
	// The stream breaks after "two" and resumes: the lines dropped as
	// adopted are not delivered again, nor any line twice.
	r.resumeAt()
	_ = r.read(strings.NewReader(stream2))
	if want := []string{"two again", "err two", "three", "err late", "  spaced  ", "last"}; !slices.Equal(got, want) {
		t.Errorf("adopted lines = %q, want %q", got, want)
	}

	// A line longer than MaxLineBytes comes in pieces.
	got = nil
	r = &lineReader{emit: func(s string) { got = append(got, s) }}
	long := strings.Repeat("x", 2*MaxLineBytes+10)
	_ = r.read(strings.NewReader("2026-03-01T12:00:00Z " + long + "\n2026-03-01T12:00:01Z after\n"))
	if len(got) < 3 || strings.Join(got[:len(got)-1], "") != long || got[len(got)-1] != "after" {
		t.Errorf("long line: %d pieces, total %d bytes", len(got), len(strings.Join(got, "")))
	}
	for _, piece := range got {
		if len(piece) > MaxLineBytes {
			t.Errorf("piece of %d bytes", len(piece))
		}
	}
}
