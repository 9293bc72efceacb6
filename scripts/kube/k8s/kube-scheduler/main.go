// Command kube-scheduler is the Kubernetes scheduler, built from
// k8s.io/kubernetes for the local test cluster that scripts/kube-up starts.
package main

import (
	"os"

	"k8s.io/component-base/cli"
	"k8s.io/kubernetes/cmd/kube-scheduler/app"
)

func main() { os.Exit(cli.Run(app.NewSchedulerCommand())) }
