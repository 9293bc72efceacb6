package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/troupehq/troupe/client"
)

// defaultRqLsLimit is how many requests rq ls lists unless told otherwise.
const defaultRqLsLimit = 1000

func newRqCmd(sf *serverFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "rq",
		Short: "Inspect request queues",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return cmd.Help()
		},
	}
	cmd.AddCommand(newRqLsCmd(sf))
	return cmd
}

func newRqLsCmd(sf *serverFlags) *cobra.Command {
	var (
		out   outputFlag
		limit int
	)
	cmd := &cobra.Command{
		Use:   "ls QUEUE",
		Short: `List the requests of QUEUE (an id, "username/name" or name), ordered by id`,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := out.validate(); err != nil {
				return err
			}
			if limit < 0 {
				return fmt.Errorf("--limit must not be negative")
			}
			ctx := cmd.Context()
			q, err := queueRef(ctx, sf.client(), args[0])
			if err != nil {
				return err
			}
			reqs := []*client.Request{}
			opts := &client.ListRequestsOptions{}
			if limit > 0 {
				opts.Limit = min(limit, defaultRqLsLimit)
			}
			for r, err := range q.ListRequestsIter(ctx, opts) {
				if err != nil {
					return err
				}
				reqs = append(reqs, r)
				if limit > 0 && len(reqs) == limit {
					break
				}
			}
			return out.print(cmd.OutOrStdout(), reqs, func(w io.Writer) error { return printRequestTable(w, reqs) })
		},
	}
	out.register(cmd)
	cmd.Flags().IntVar(&limit, "limit", defaultRqLsLimit, "list at most this many requests (0: all)")
	return cmd
}

// queueRef returns the client of the queue the QUEUE argument names: an
// id, "username/name" or "~name", or a bare word, tried as an id first and
// taken as the name of one of the user's queues when no queue has that id.
func queueRef(ctx context.Context, c *client.Client, arg string) (*client.RequestQueueClient, error) {
	if arg == "" {
		return nil, fmt.Errorf("no request queue given")
	}
	if strings.ContainsAny(arg, "/~") {
		return c.RequestQueue(arg), nil
	}
	q, err := c.RequestQueue(arg).Get(ctx)
	if err != nil {
		return nil, err
	}
	if q == nil {
		return c.RequestQueue("~" + arg), nil
	}
	return c.RequestQueue(arg), nil
}

// printRequestTable prints one line per request.
func printRequestTable(w io.Writer, reqs []*client.Request) error {
	tw := newTable(w)
	fmt.Fprintln(tw, "ID\tMETHOD\tHANDLED\tRETRIES\tURL")
	for _, r := range reqs {
		method := r.Method
		if method == "" {
			method = "GET"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.ID, method, fmtTime(r.HandledAt), strconv.Itoa(r.RetryCount), oneLine(r.URL, 100))
	}
	return tw.Flush()
}
