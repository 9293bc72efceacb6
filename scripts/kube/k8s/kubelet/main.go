// Command kubelet is the Kubernetes node agent, built from k8s.io/kubernetes
// for the local test cluster that scripts/kube-up starts.
package main

import (
	"context"
	"os"

	"k8s.io/component-base/cli"
	"k8s.io/kubernetes/cmd/kubelet/app"
)

func main() { os.Exit(cli.Run(app.NewKubeletCommand(context.Background()))) }
