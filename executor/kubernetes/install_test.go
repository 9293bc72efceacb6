package kubernetes

import (
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/troupehq/troupe"
)

// TestInstallPodSpec: the install pod fetches, installs in the mapped FROM
// image and uploads, each container with a run's security context; only
// the fetch and upload containers see the build's token; the deadline is
// the build's.
func TestInstallPodSpec(t *testing.T) {
	e, _ := newFake(t)
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	spec := &troupe.InstallSpec{
		BuildID: "Bld1", Image: "node:20", Command: []string{"npm", "install"}, Env: []string{"NPM_CONFIG_REGISTRY=http://r.example/"},
		Token: "build_Bld1_mac", Source: strings.Repeat("cd", 32), Deadline: now.Add(1800 * time.Second), MemoryMbytes: 2048,
	}
	pod := e.installPod(spec, now)
	if pod.Name != InstallPodName("Bld1") || !strings.HasPrefix(pod.Name, "troupe-build-bld1-") {
		t.Errorf("name = %q", pod.Name)
	}
	if pod.Labels[LabelManagedBy] != "troupe" || pod.Labels[LabelInstall] != "true" || pod.Labels[LabelBuild] != "Bld1" {
		t.Errorf("labels = %v", pod.Labels)
	}
	ps := pod.Spec
	if ps.ActiveDeadlineSeconds == nil || *ps.ActiveDeadlineSeconds != 1800 {
		t.Errorf("activeDeadlineSeconds = %v, want 1800", ps.ActiveDeadlineSeconds)
	}
	if ps.RestartPolicy != corev1.RestartPolicyNever || *ps.AutomountServiceAccountToken || !ps.HostNetwork {
		t.Errorf("restart %s, service account token %v, hostNetwork %v", ps.RestartPolicy, *ps.AutomountServiceAccountToken, ps.HostNetwork)
	}
	all := append(append([]corev1.Container{}, ps.InitContainers...), ps.Containers...)
	var names []string
	for _, c := range all {
		names = append(names, c.Name+"@"+c.Image)
		sc := c.SecurityContext
		if sc == nil || !*sc.RunAsNonRoot || *sc.RunAsUser != 1000 || !*sc.ReadOnlyRootFilesystem || *sc.AllowPrivilegeEscalation ||
			!slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) {
			t.Errorf("container %s: security context %+v", c.Name, sc)
		}
		token := ""
		for _, ev := range c.Env {
			if ev.Value == spec.Token {
				token = ev.Name
			}
		}
		if (c.Name == installContainer) != (token == "") {
			t.Errorf("container %s: token in %q", c.Name, token)
		}
	}
	want := []string{"fetch-source@busybox:1", "install@mirror.example/node:20", "upload@busybox:1"}
	if !slices.Equal(names, want) {
		t.Fatalf("containers %q, want %q", names, want)
	}
	inst := ps.InitContainers[1]
	if !slices.Equal(inst.Command, spec.Command) || inst.WorkingDir != DefaultWorkDir {
		t.Errorf("install command %q in %s", inst.Command, inst.WorkingDir)
	}
	env := map[string]string{}
	for _, ev := range inst.Env {
		env[ev.Name] = ev.Value
	}
	if env["HOME"] != "/tmp" || env["npm_config_cache"] != "/tmp/.npm" || env["NPM_CONFIG_REGISTRY"] != "http://r.example/" {
		t.Errorf("install env = %v", env)
	}
	if m := inst.Resources.Limits.Memory(); m.Value() != 2048<<20 {
		t.Errorf("install memory limit = %v", m)
	}
	urls := map[string]string{}
	for _, c := range all {
		for _, ev := range c.Env {
			if strings.HasSuffix(ev.Name, "_URL") || ev.Name == "TROUPE_SOURCE_SHA256" {
				urls[ev.Name] = ev.Value
			}
		}
	}
	if urls["TROUPE_SOURCE_URL"] != "http://10.0.0.1:8700/v2/actor-builds/Bld1/install-source" ||
		urls["TROUPE_RESULT_URL"] != "http://10.0.0.1:8700/v2/actor-builds/Bld1/install-result" ||
		urls["TROUPE_SOURCE_SHA256"] != spec.Source {
		t.Errorf("urls = %v", urls)
	}
}

// TestInstallOutcome: how an install pod's status becomes Install's result.
func TestInstallOutcome(t *testing.T) {
	term := func(name string, code int32, reason, msg string) corev1.ContainerStatus {
		return corev1.ContainerStatus{Name: name, State: corev1.ContainerState{
			Terminated: &corev1.ContainerStateTerminated{ExitCode: code, Reason: reason, Message: msg}}}
	}
	for _, tc := range []struct {
		name   string
		status corev1.PodStatus
		done   bool
		want   string
	}{
		{"Pending", corev1.PodStatus{Phase: corev1.PodPending}, false, ""},
		{"Succeeded", corev1.PodStatus{Phase: corev1.PodSucceeded}, true, ""},
		{"Deadline", corev1.PodStatus{Phase: corev1.PodFailed, Reason: "DeadlineExceeded"}, true, "the build's time ran out"},
		{"FetchFailed", corev1.PodStatus{Phase: corev1.PodFailed, InitContainerStatuses: []corev1.ContainerStatus{
			term(sourceContainer, 1, "Error", "Connecting\nwget: server returned error: HTTP/1.1 401 Unauthorized")}},
			true, "the pod could not fetch the build's source: wget: server returned error: HTTP/1.1 401 Unauthorized"},
		{"InstallFailed", corev1.PodStatus{Phase: corev1.PodFailed, InitContainerStatuses: []corev1.ContainerStatus{
			term(sourceContainer, 0, "Completed", ""), term(installContainer, 254, "Error", "")}}, true, "it exited with code 254"},
		{"InstallOOM", corev1.PodStatus{Phase: corev1.PodFailed, InitContainerStatuses: []corev1.ContainerStatus{
			term(installContainer, 137, "OOMKilled", "")}}, true, "it was killed for going over the build's memory of 512 MB"},
		{"UploadFailed", corev1.PodStatus{Phase: corev1.PodFailed, ContainerStatuses: []corev1.ContainerStatus{
			term(uploadContainer, 1, "Error", "wget: server returned error: HTTP/1.1 413 Request Entity Too Large")}},
			true, "the pod could not upload the installed folder: wget: server returned error: HTTP/1.1 413 Request Entity Too Large"},
		{"ImagePull", corev1.PodStatus{Phase: corev1.PodPending, InitContainerStatuses: []corev1.ContainerStatus{
			{Name: installContainer, Image: "node:20", State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ErrImagePull"}}}}},
			true, "The cluster could not pull the image node:20 (ErrImagePull)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			done, err := installOutcome(&corev1.Pod{Status: tc.status}, 512)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if done != tc.done || !strings.HasPrefix(got, tc.want) || (tc.want == "") != (err == nil) {
				t.Errorf("installOutcome = %v, %q; want %v, %q", done, got, tc.done, tc.want)
			}
		})
	}
}
