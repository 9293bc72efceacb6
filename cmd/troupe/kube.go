package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/pflag"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	kubeexec "github.com/troupehq/troupe/executor/kubernetes"
)

// serviceAccountNamespace holds the namespace of a pod's service account.
const serviceAccountNamespace = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"

// containerPath is the PATH of runs in pods: that of the usual images.
const containerPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// kubeOptions are the flags of the run executor.
type kubeOptions struct {
	executor    string
	kubeconfig  string
	namespace   string
	imageMap    []string
	initImage   string
	hostNetwork bool
}

func addKubeFlags(f *pflag.FlagSet, o *kubeOptions) {
	f.StringVar(&o.executor, "executor", "process", "where runs run: process (local processes, sandboxed by --sandbox) or kubernetes (one pod per run process, and Node.js builds install their dependencies in a pod; --sandbox then covers what builds still run on the server)")
	f.StringVar(&o.kubeconfig, "kubeconfig", "", "kubeconfig file of the cluster (--executor kubernetes; default: the in-cluster configuration)")
	f.StringVar(&o.namespace, "namespace", "", "namespace of the runs' pods (--executor kubernetes; default: the kubeconfig's, else default)")
	f.StringArrayVar(&o.imageMap, "image-map", nil, "FROM=TO: run pods whose Dockerfile says FROM this image in that image instead, e.g. apify/actor-node:20=registry.example/actor-node:20; repeat for more")
	f.StringVar(&o.initImage, "kube-init-image", "busybox:1", "busybox image of the init container that fetches each run's build into its pod")
	f.BoolVar(&o.hostNetwork, "kube-host-network", false, "run pods in their node's network namespace (for a cluster whose nodes have no pod network)")
}

// newKubeExecutor connects to the cluster of o. apiURL is troupe's URL as
// pods reach it (--public-url).
func newKubeExecutor(o kubeOptions, apiURL, instance string, logger *slog.Logger) (*kubeexec.Executor, error) {
	imageMap := map[string]string{}
	for _, kv := range o.imageMap {
		from, to, ok := strings.Cut(kv, "=")
		if !ok || from == "" || to == "" {
			return nil, fmt.Errorf("--image-map: %q is not FROM=TO", kv)
		}
		imageMap[from] = to
	}
	var (
		cfg *rest.Config
		err error
		ns  = o.namespace
	)
	if o.kubeconfig != "" {
		loader := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(
			&clientcmd.ClientConfigLoadingRules{ExplicitPath: o.kubeconfig}, &clientcmd.ConfigOverrides{})
		if cfg, err = loader.ClientConfig(); err != nil {
			return nil, fmt.Errorf("--kubeconfig: %w", err)
		}
		if ns == "" {
			if ns, _, err = loader.Namespace(); err != nil {
				return nil, fmt.Errorf("--kubeconfig: %w", err)
			}
		}
	} else {
		if cfg, err = rest.InClusterConfig(); err != nil {
			if errors.Is(err, rest.ErrNotInCluster) {
				return nil, errors.New("--executor kubernetes: give --kubeconfig, or run troupe inside the cluster")
			}
			return nil, err
		}
		if ns == "" {
			if b, err := os.ReadFile(serviceAccountNamespace); err == nil {
				ns = strings.TrimSpace(string(b))
			}
		}
	}
	if ns == "" {
		ns = "default"
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	ex, err := kubeexec.New(kubeexec.Options{Client: client, Namespace: ns, APIURL: apiURL, InitImage: o.initImage,
		ImageMap: imageMap, HostNetwork: o.hostNetwork, Instance: instance, Logger: logger})
	if err != nil {
		return nil, err
	}
	logger.Info("runs run as Kubernetes pods", "server", cfg.Host, "namespace", ns)
	return ex, nil
}
