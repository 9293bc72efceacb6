package kubernetes

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"

	"github.com/troupehq/troupe"
)

var _ troupe.Installer = (*Executor)(nil)

// LabelInstall marks the pod of a build's install step; its value is
// "true". LabelBuild names the build.
const LabelInstall = "troupe.dev/install"

// Container names in an install pod: fetch-source and install are init
// containers, upload the main one.
const (
	sourceContainer  = "fetch-source"
	installContainer = "install"
	uploadContainer  = "upload"
)

// installDeleteWait bounds the delete of an install pod once Install ends.
const installDeleteWait = 30 * time.Second

// fetchSourceScript is what the fetch-source container runs: download the
// build's source archive with the build's token, check its sha256, unpack
// it into the work folder.
var fetchSourceScript = archiveFetchScript("the source archive", "TROUPE_BUILD_TOKEN", "TROUPE_SOURCE_URL", "TROUPE_SOURCE_SHA256")

// uploadScript is what the upload container runs once the install has
// succeeded: pack the work folder and POST it with the build's token, in
// base64, as busybox wget sends a file only up to its first NUL byte (and
// reads it whole into memory: the pod needs memory for the archive).
const uploadScript = `set -eu
cd "$TROUPE_WORKDIR"
find . -mindepth 1 -maxdepth 1 -exec tar -czf /tmp/result.tar.gz {} +
base64 /tmp/result.tar.gz > /tmp/result.b64
rm -f /tmp/result.tar.gz
wget -q -O /dev/null --header "Authorization: Bearer $TROUPE_BUILD_TOKEN" \
	--header "Content-Type: text/plain" --post-file /tmp/result.b64 "$TROUPE_RESULT_URL?encoding=base64"
rm -f /tmp/result.b64
`

// InstallPodName is the name of the pod of a build's install step.
func InstallPodName(buildID string) string {
	return fmt.Sprintf("troupe-build-%s-%s", nameOf(buildID), hashOf(buildID))
}

// Install implements troupe.Installer with one pod: an init container
// (Options.InitImage) fetches the source archive with the build's token
// and checks its digest, a second one runs the install command in the
// image spec.Image names (after Options.ImageMap), with the image's own
// environment plus spec.Env, HOME and the npm cache in /tmp, its log
// streamed into spec.Output as lines arrive; the main container
// (Options.InitImage) packs the folder and uploads it. The containers have
// a run's security context (uid 1000, read-only root file system, no
// privilege escalation, no capabilities) and only the fetch and upload
// containers get the token. activeDeadlineSeconds is spec.Deadline. The
// pod is deleted before Install returns, whatever the outcome.
func (e *Executor) Install(ctx context.Context, spec *troupe.InstallSpec) error {
	if spec == nil || len(spec.Command) == 0 {
		return errors.New("install pod: empty command")
	}
	out := spec.Output
	if out == nil {
		out = func(string) {}
	}
	pod := e.installPod(spec, time.Now())
	pods := e.client.CoreV1().Pods(e.ns)
	if _, err := pods.Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("create the install pod: %w", err)
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.Background(), installDeleteWait)
		defer cancel()
		if err := e.deletePod(dctx, pod.Name, 0); err != nil {
			e.log.Warn("kubernetes executor: delete install pod", "pod", pod.Name, "err", err)
		}
	}()

	changed := make(chan struct{}, 1)
	var logs sync.WaitGroup
	logCtx, cancelLogs := context.WithCancel(ctx)
	defer cancelLogs()
	var (
		installEnded bool
		mu           sync.Mutex
	)
	ended := func() bool { mu.Lock(); defer mu.Unlock(); return installEnded }
	started := false
	var result error
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			o.FieldSelector = "metadata.name=" + pod.Name
			return pods.List(ctx, o)
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			o.FieldSelector = "metadata.name=" + pod.Name
			return pods.Watch(ctx, o)
		},
	}
	_, err := watchtools.UntilWithSync(ctx, lw, &corev1.Pod{}, nil, func(ev watch.Event) (bool, error) {
		p, ok := ev.Object.(*corev1.Pod)
		if !ok || p.Name != pod.Name {
			return false, nil
		}
		if ev.Type == watch.Deleted {
			result = errors.New("the install pod was deleted")
			return true, nil
		}
		select {
		case changed <- struct{}{}:
		default:
		}
		inst := containerStatus(p.Status.InitContainerStatuses, installContainer)
		if inst != nil && (inst.State.Running != nil || inst.State.Terminated != nil) {
			if inst.State.Terminated != nil {
				mu.Lock()
				installEnded = true
				mu.Unlock()
			}
			if !started {
				started = true
				logs.Go(func() { e.followInstall(logCtx, pod.Name, out, ended, changed) })
			}
		}
		var done bool
		done, result = installOutcome(p, spec.MemoryMbytes)
		return done, nil
	})
	if ctx.Err() != nil {
		cancelLogs()
		logs.Wait()
		return ctx.Err()
	}
	if err != nil {
		result = fmt.Errorf("watch the install pod: %w", err)
	}
	// The install's last lines reach the build log before the outcome.
	mu.Lock()
	installEnded = true
	mu.Unlock()
	stop := time.AfterFunc(logCutDelay, cancelLogs)
	logs.Wait()
	stop.Stop()
	return result
}

// Forget implements troupe.Installer: it deletes the build's install pod.
func (e *Executor) Forget(ctx context.Context, buildID string) error {
	return e.deletePod(ctx, InstallPodName(buildID), 0)
}

// installOutcome says whether the install pod has ended, and how: nil
// when it succeeded.
func installOutcome(p *corev1.Pod, mbytes int) (bool, error) {
	if p.Status.Phase == corev1.PodSucceeded {
		return true, nil
	}
	if p.Status.Reason == "DeadlineExceeded" {
		return true, errors.New("the build's time ran out")
	}
	for _, c := range []struct {
		name string
		list []corev1.ContainerStatus
		what string
	}{
		{sourceContainer, p.Status.InitContainerStatuses, "the pod could not fetch the build's source"},
		{installContainer, p.Status.InitContainerStatuses, ""},
		{uploadContainer, p.Status.ContainerStatuses, "the pod could not upload the installed folder"},
	} {
		st := containerStatus(c.list, c.name)
		if st == nil {
			continue
		}
		if w := st.State.Waiting; w != nil && fatalWaiting[w.Reason] {
			return true, errors.New(waitingFailure(p, st, w))
		}
		t := st.State.Terminated
		if t == nil || t.ExitCode == 0 {
			continue
		}
		switch {
		case c.what != "":
			msg := strings.TrimSpace(t.Message)
			if i := strings.LastIndexByte(msg, '\n'); i >= 0 {
				msg = msg[i+1:]
			}
			return true, fmt.Errorf("%s: %s", c.what, oneLine(msg))
		case t.Reason == "OOMKilled":
			return true, fmt.Errorf("it was killed for going over the build's memory of %d MB", mbytes)
		default:
			return true, fmt.Errorf("it exited with code %d", t.ExitCode)
		}
	}
	if p.Status.Phase == corev1.PodFailed {
		return true, fmt.Errorf("the install pod failed (%s)", oneLine(p.Status.Reason+" "+p.Status.Message))
	}
	return false, nil
}

// followInstall streams the install container's log into out, resuming
// after the last line delivered when the stream breaks while the container
// runs, until the container has ended and its log is read.
func (e *Executor) followInstall(ctx context.Context, name string, out func(string), ended func() bool, changed <-chan struct{}) {
	r := &lineReader{emit: out}
	for ctx.Err() == nil {
		over := ended()
		opts := &corev1.PodLogOptions{Container: installContainer, Follow: true, Timestamps: true}
		if t := r.resumeAt(); !t.IsZero() {
			st := metav1.NewTime(t.Truncate(time.Second))
			opts.SinceTime = &st
		}
		stream, err := e.client.CoreV1().Pods(e.ns).GetLogs(name, opts).Stream(ctx)
		if err == nil {
			err = r.read(stream)
			stream.Close()
		}
		if over && (err == nil || errors.Is(err, io.EOF)) {
			return
		}
		if ended() && err != nil && !errors.Is(err, io.EOF) {
			e.log.Debug("kubernetes executor: install log stream", "pod", name, "err", err)
		}
		t := time.NewTimer(time.Second)
		select {
		case <-ctx.Done():
		case <-changed:
		case <-t.C:
		}
		t.Stop()
	}
}

// installPod returns the pod of an install step; now is when its deadline
// is counted from.
func (e *Executor) installPod(spec *troupe.InstallSpec, now time.Time) *corev1.Pod {
	lbl := map[string]string{LabelManagedBy: managedBy, LabelInstall: "true"}
	if v := labelValue(spec.BuildID); v != "" {
		lbl[LabelBuild] = v
	}
	ann := map[string]string{AnnotationImage: spec.Image}
	if e.opts.Instance != "" {
		ann[AnnotationInstance] = e.opts.Instance
	}
	secure, mounts := restricted(), e.mounts()
	base := strings.TrimRight(e.opts.APIURL, "/") + "/v2/actor-builds/" + spec.BuildID
	tokenEnv := []corev1.EnvVar{
		{Name: "TROUPE_BUILD_TOKEN", Value: spec.Token},
		{Name: "TROUPE_WORKDIR", Value: e.opts.WorkDir},
	}
	env := []corev1.EnvVar{{Name: "HOME", Value: "/tmp"}, {Name: "npm_config_cache", Value: "/tmp/.npm"},
		{Name: "npm_config_update_notifier", Value: "false"}}
	for _, kv := range spec.Env {
		if k, v, ok := strings.Cut(kv, "="); ok && k != "" {
			env = append(env, corev1.EnvVar{Name: k, Value: v})
		}
	}
	helper := func(name, script string, extra ...corev1.EnvVar) corev1.Container {
		return corev1.Container{
			Name: name, Image: e.opts.InitImage, ImagePullPolicy: corev1.PullIfNotPresent,
			Command: []string{"sh", "-c", script}, Env: append(append([]corev1.EnvVar{}, tokenEnv...), extra...),
			VolumeMounts: mounts, SecurityContext: secure,
			TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
			Resources:                initResources(spec.MemoryMbytes),
		}
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: InstallPodName(spec.BuildID), Namespace: e.ns, Labels: lbl, Annotations: ann},
		Spec: e.podSpec(spec.Deadline, now,
			helper(uploadContainer, uploadScript, corev1.EnvVar{Name: "TROUPE_RESULT_URL", Value: base + "/install-result"})),
	}
	pod.Spec.InitContainers = []corev1.Container{
		helper(sourceContainer, fetchSourceScript,
			corev1.EnvVar{Name: "TROUPE_SOURCE_URL", Value: base + "/install-source"},
			corev1.EnvVar{Name: "TROUPE_SOURCE_SHA256", Value: spec.Source}),
		{
			Name: installContainer, Image: e.Image(spec.Image), ImagePullPolicy: corev1.PullIfNotPresent,
			Command: spec.Command, WorkingDir: e.opts.WorkDir, Env: env,
			VolumeMounts: mounts, SecurityContext: secure,
			TerminationMessagePolicy: corev1.TerminationMessageReadFile,
			Resources:                resources(spec.MemoryMbytes),
		},
	}
	return pod
}
