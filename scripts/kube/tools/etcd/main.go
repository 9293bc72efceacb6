// Command etcd is etcd's own server, built from go.etcd.io/etcd/server/v3 for
// the local test cluster that scripts/kube-up starts.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
