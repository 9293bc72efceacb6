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
		Use:           "troupe",
		Short:         "Run actors and steer their runs through the Apify API v2",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version(debug.ReadBuildInfo()),
	}
	root.SetVersionTemplate("troupe {{.Version}}\n")
	root.AddCommand(newServeCmd())
	addClientCommands(root)
	return root
}
