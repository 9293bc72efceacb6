package main

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestKubeExecutorFlags: the kubernetes executor's flags are checked before
// anything connects, and a kubeconfig's namespace is used when
// --namespace is not given.
func TestKubeExecutorFlags(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(cfg, []byte(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:6443"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: x, context: {cluster: c, user: u, namespace: runs}}]
current-context: x
`), 0o600); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	base := kubeOptions{executor: "kubernetes", kubeconfig: cfg, initImage: "busybox:1"}
	for _, tc := range []struct {
		name    string
		change  func(o *kubeOptions)
		wantErr string
	}{
		{"BadImageMap", func(o *kubeOptions) { o.imageMap = []string{"node:20"} }, `--image-map: "node:20" is not FROM=TO`},
		{"InvalidImage", func(o *kubeOptions) { o.imageMap = []string{"Not An Image=x"} }, "image map"},
		{"MissingKubeconfig", func(o *kubeOptions) { o.kubeconfig = filepath.Join(t.TempDir(), "none") }, "--kubeconfig"},
		{"OK", func(o *kubeOptions) { o.imageMap = []string{"node:20=docker.io/troupe-local/node:20"} }, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := base
			tc.change(&o)
			ex, err := newKubeExecutor(o, "http://127.0.0.1:8700", "a", log)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				defer ex.Close()
				if got := ex.Image("node:20"); got != "docker.io/troupe-local/node:20" {
					t.Errorf("Image(node:20) = %q", got)
				}
				if ns := ex.Namespace(); ns != "runs" {
					t.Errorf("namespace = %q, want the kubeconfig's runs", ns)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("error = %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
	if err := runServe(t.Context(), serveOptions{kube: kubeOptions{executor: "pods"}, dataDir: t.TempDir(), logLevel: "info", logFormat: "text"}); err == nil ||
		!strings.Contains(err.Error(), `--executor: "pods"`) {
		t.Errorf("runServe with --executor pods: %v", err)
	}
}
