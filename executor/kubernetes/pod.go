package kubernetes

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/distribution/reference"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/troupehq/troupe"
)

// mbytesPerCore is the memory that comes with one CPU core, as on the
// Apify platform.
const mbytesPerCore = 4096

// fetchScript is what the init container runs: download the build's
// archive with the run's token, check its sha256, unpack it into the work
// folder.
var fetchScript = archiveFetchScript("the archive", "APIFY_TOKEN", "TROUPE_ARTIFACT_URL", "TROUPE_ARTIFACT_SHA256")

// archiveFetchScript returns the shell script of a container that
// downloads the archive at $urlVar with the bearer token in $tokenVar,
// fails unless its sha256 is $sumVar (what names the archive in the
// message), and unpacks it into $TROUPE_WORKDIR.
func archiveFetchScript(what, tokenVar, urlVar, sumVar string) string {
	return `set -eu
wget -q -O /tmp/archive.tar.gz --header "Authorization: Bearer $` + tokenVar + `" "$` + urlVar + `"
sum=$(sha256sum /tmp/archive.tar.gz | cut -d ' ' -f 1)
if [ "$sum" != "$` + sumVar + `" ]; then
	echo "` + what + `'s sha256 is $sum, not the build's $` + sumVar + `" >&2
	exit 1
fi
tar -xzf /tmp/archive.tar.gz -C "$TROUPE_WORKDIR"
rm -f /tmp/archive.tar.gz
`
}

// NormalizeImage returns the full name of an image reference, with its
// registry and tag (node:20 is docker.io/library/node:20).
func NormalizeImage(s string) (string, error) {
	named, err := reference.ParseNormalizedNamed(s)
	if err != nil {
		return "", fmt.Errorf("image %q: %w", s, err)
	}
	return reference.TagNameOnly(named).String(), nil
}

// Image returns the image a pod runs for the image a Dockerfile names,
// after Options.ImageMap.
func (e *Executor) Image(from string) string {
	if n, err := NormalizeImage(from); err == nil {
		if to, ok := e.imageMap[n]; ok {
			return to
		}
	}
	return from
}

// podFor returns the pod of spec; now is when the deadline is counted
// from.
func (e *Executor) podFor(spec *troupe.ExecSpec, now time.Time) (*corev1.Pod, error) {
	name := PodName(spec.RunID, spec.Generation)
	gen := strconv.Itoa(spec.Generation)
	lbl := map[string]string{LabelManagedBy: managedBy, LabelRun: labelValue(spec.RunID), LabelGeneration: gen}
	if v := labelValue(spec.ActorID); v != "" {
		lbl[LabelActor] = v
	}
	if v := labelValue(spec.BuildID); v != "" {
		lbl[LabelBuild] = v
	}
	ann := map[string]string{AnnotationRun: spec.RunID, AnnotationImage: spec.Image}
	if e.opts.Instance != "" {
		ann[AnnotationInstance] = e.opts.Instance
	}

	argv := []string{"env", "-i"}
	for _, kv := range spec.Env {
		if k, _, ok := strings.Cut(kv, "="); ok && k != "" {
			argv = append(argv, kv)
		}
	}
	argv = append(argv, spec.Command...)
	if strings.Contains(spec.Command[0], "=") {
		return nil, troupe.Errorf(troupe.ErrInvalidInput, "The start command %q cannot run in a pod: its program name holds '='.", spec.Command[0])
	}

	secure, mounts := restricted(), e.mounts()
	main := corev1.Container{
		Name:                     mainContainer,
		Image:                    e.Image(spec.Image),
		ImagePullPolicy:          corev1.PullIfNotPresent,
		Command:                  argv,
		WorkingDir:               e.opts.WorkDir,
		VolumeMounts:             mounts,
		SecurityContext:          secure,
		TerminationMessagePolicy: corev1.TerminationMessageReadFile,
		Resources:                resources(spec.MemoryMbytes),
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: e.ns, Labels: lbl, Annotations: ann},
		Spec:       e.podSpec(spec.Deadline, now, main),
	}
	// The pod's sandbox (pause) is pid 1, not the program: a program
	// without a SIGTERM handler then ends at the SIGTERM of a pod's
	// deletion, as a process does, instead of ignoring it as pid 1 and
	// living on until the kubelet's SIGKILL (2 s at least, whatever the
	// grace period).
	share := true
	pod.Spec.ShareProcessNamespace = &share
	if spec.Artifact != "" {
		token := ""
		for _, kv := range spec.Env {
			if v, ok := strings.CutPrefix(kv, "APIFY_TOKEN="); ok {
				token = v
			}
		}
		pod.Spec.InitContainers = []corev1.Container{{
			Name:            initContainer,
			Image:           e.opts.InitImage,
			ImagePullPolicy: corev1.PullIfNotPresent,
			Command:         []string{"sh", "-c", fetchScript},
			Env: []corev1.EnvVar{
				{Name: "APIFY_TOKEN", Value: token},
				{Name: "TROUPE_ARTIFACT_URL", Value: strings.TrimRight(e.opts.APIURL, "/") + "/v2/actor-builds/" + spec.BuildID + "/artifact"},
				{Name: "TROUPE_ARTIFACT_SHA256", Value: spec.Artifact},
				{Name: "TROUPE_WORKDIR", Value: e.opts.WorkDir},
			},
			VolumeMounts:             mounts,
			SecurityContext:          secure,
			TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
			Resources:                initResources(spec.MemoryMbytes),
		}}
	}
	return pod, nil
}

// resources are the requests and limits of a run's container: its memory,
// and CPU in proportion; none without a memory limit.
func resources(mbytes int) corev1.ResourceRequirements {
	if mbytes <= 0 {
		return corev1.ResourceRequirements{}
	}
	mem := resource.NewQuantity(int64(mbytes)<<20, resource.BinarySI)
	cpu := resource.NewMilliQuantity(max(1, int64(mbytes)*1000/mbytesPerCore), resource.DecimalSI)
	list := corev1.ResourceList{corev1.ResourceMemory: *mem, corev1.ResourceCPU: *cpu}
	return corev1.ResourceRequirements{Requests: list, Limits: list.DeepCopy()}
}

// initResources are those of the init container: the same memory (the pod
// is sized by its largest container), and at least a tenth of a core so
// that unpacking does not crawl.
func initResources(mbytes int) corev1.ResourceRequirements {
	r := resources(mbytes)
	if mbytes > 0 {
		cpu := resource.NewMilliQuantity(max(100, int64(mbytes)*1000/mbytesPerCore), resource.DecimalSI)
		r.Requests[corev1.ResourceCPU], r.Limits[corev1.ResourceCPU] = *cpu, *cpu
	}
	return r
}

// labelValue returns s when it is a valid label value, else "".
func labelValue(s string) string {
	if len(s) > 63 {
		return ""
	}
	for i, c := range s {
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || i == len(s)-1 || (c != '-' && c != '_' && c != '.')) {
			return ""
		}
	}
	return s
}

// restricted is the security context of every container troupe starts:
// that of a limited actor (non-root, read-only root file system, no
// privilege escalation, no capabilities).
func restricted() *corev1.SecurityContext {
	f, t := false, true
	uid := int64(runUID)
	return &corev1.SecurityContext{
		RunAsNonRoot:             &t,
		RunAsUser:                &uid,
		RunAsGroup:               &uid,
		ReadOnlyRootFilesystem:   &t,
		AllowPrivilegeEscalation: &f,
		Privileged:               &f,
		Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
	}
}

// mounts are the writable folders of every container troupe starts: the
// working folder and /tmp, both emptyDir volumes of podSpec.
func (e *Executor) mounts() []corev1.VolumeMount {
	return []corev1.VolumeMount{
		{Name: "work", MountPath: e.opts.WorkDir},
		{Name: "tmp", MountPath: "/tmp"},
	}
}

// podSpec is the spec every pod troupe starts shares around its
// containers: never restarted, no service account token or service links,
// a non-root pod security context, the volumes of mounts, the host network
// when configured, and activeDeadlineSeconds backing deadline (counted
// from now) unless it is zero.
func (e *Executor) podSpec(deadline, now time.Time, containers ...corev1.Container) corev1.PodSpec {
	f, t := false, true
	uid := int64(runUID)
	grace := int64(killGrace)
	ps := corev1.PodSpec{
		RestartPolicy:                 corev1.RestartPolicyNever,
		Containers:                    containers,
		HostNetwork:                   e.opts.HostNetwork,
		AutomountServiceAccountToken:  &f,
		EnableServiceLinks:            &f,
		TerminationGracePeriodSeconds: &grace,
		SecurityContext: &corev1.PodSecurityContext{
			RunAsNonRoot: &t, RunAsUser: &uid, RunAsGroup: &uid, FSGroup: &uid,
		},
		Volumes: []corev1.Volume{
			{Name: "work", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
			{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
		},
	}
	if e.opts.HostNetwork {
		ps.DNSPolicy = corev1.DNSClusterFirstWithHostNet
	}
	if !deadline.IsZero() {
		secs := max(1, int64(math.Ceil(deadline.Sub(now).Seconds())))
		ps.ActiveDeadlineSeconds = &secs
	}
	return ps
}
