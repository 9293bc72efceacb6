// Command troupe is the troupe server (`troupe serve`) and the command-line
// client for its API.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/troupehq/troupe"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := newRootCmd()
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "troupe:", errorText(err))
		os.Exit(1)
	}
}

// errorText is what the CLI prints for err: the message of a coded error,
// otherwise the error itself (a client-side failure the user can act on).
func errorText(err error) string {
	var e *troupe.Error
	if errors.As(err, &e) {
		return e.Message
	}
	return err.Error()
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "troupe",
		Short:         "Run actors and steer their runs through the Apify API v2",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newServeCmd())
	addClientCommands(root)
	return root
}
