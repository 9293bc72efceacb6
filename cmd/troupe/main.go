// Command troupe is the troupe server (`troupe serve`) and the command-line
// client for its API.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/spf13/cobra"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := newRootCmd()
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "troupe:", cliErrorMessage(err))
		os.Exit(1)
	}
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "troupe",
		Short: "Run actors and steer their runs through the Apify API v2",
		Long: `troupe runs actors and steers their runs through the Apify API v2.

"troupe serve" is the server; every other command is a client of its API.
Clients find the server through --url or TROUPE_URL (default
http://127.0.0.1:8700) and use the token of --token or TROUPE_TOKEN; the
server keeps its admin token in ~/.troupe/token. "troupe completion --help"
sets up shell completion.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version(debug.ReadBuildInfo()),
	}
	root.SetVersionTemplate("troupe {{.Version}}\n")
	root.AddCommand(newServeCmd())
	addClientCommands(root)
	return root
}
