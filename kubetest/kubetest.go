// Package kubetest names the Kubernetes cluster tests run against: the one
// scripts/kube-up starts, which scripts/test names in the environment.
package kubetest

import (
	"os"
	"testing"
)

// Cluster returns the kubeconfig path and the troupe serve arguments of the
// test cluster: KUBECONFIG, and TROUPE_KUBE_SERVE_ARGS (the TROUPE_SERVE_ARGS
// scripts/kube-up prints). Without them the test fails when CI is "true",
// and is skipped elsewhere, saying how to start a cluster.
func Cluster(t testing.TB) (kubeconfig, serveArgs string) {
	t.Helper()
	kubeconfig, serveArgs = os.Getenv("KUBECONFIG"), os.Getenv("TROUPE_KUBE_SERVE_ARGS")
	if kubeconfig == "" || serveArgs == "" {
		msg := "no test cluster: start one with `scripts/kube-up DIR` and export the KUBECONFIG it prints, and its TROUPE_SERVE_ARGS as TROUPE_KUBE_SERVE_ARGS (scripts/test does both)"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return kubeconfig, serveArgs
}
