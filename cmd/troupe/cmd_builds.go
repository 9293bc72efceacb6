package main

import (
	"fmt"
	"io"
	"strconv"

	"github.com/spf13/cobra"
	"github.com/troupehq/troupe"
	"github.com/troupehq/troupe/client"
)

func newBuildsCmd(sf *serverFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "builds",
		Short: "List an actor's builds, abort a build",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return cmd.Help()
		},
	}
	cmd.AddCommand(newBuildsLsCmd(sf), newBuildsAbortCmd(sf))
	return cmd
}

func newBuildsLsCmd(sf *serverFlags) *cobra.Command {
	var (
		out    outputFlag
		limit  int
		offset int
		desc   bool
	)
	cmd := &cobra.Command{
		Use:               "ls ACTOR",
		Short:             `List the builds of ACTOR (an id, "username/name" or name)`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: sf.completeFirstActor,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := out.validate(); err != nil {
				return err
			}
			if limit < 0 || offset < 0 {
				return fmt.Errorf("--limit and --offset must not be negative")
			}
			c := sf.client()
			ref, err := actorRef(cmd.Context(), c, args[0])
			if err != nil {
				return err
			}
			page, err := c.Actor(ref).Builds().List(cmd.Context(), &client.ListOptions{Offset: offset, Limit: limit, Desc: desc})
			if err != nil {
				return err
			}
			return out.print(cmd.OutOrStdout(), page, func(w io.Writer) error { return printBuildTable(w, page.Items) })
		},
	}
	out.register(cmd)
	cmd.Flags().IntVar(&limit, "limit", 0, "list at most this many builds (default: the server's, 1000)")
	cmd.Flags().IntVar(&offset, "offset", 0, "skip this many builds")
	cmd.Flags().BoolVar(&desc, "desc", false, "newest first")
	return cmd
}

// printBuildTable prints one line per build.
func printBuildTable(w io.Writer, builds []*client.Build) error {
	tw := newTable(w)
	fmt.Fprintln(tw, "ID\tNUMBER\tSTATUS\tSTARTED\tDURATION")
	now := troupe.Now()
	for _, b := range builds {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", b.ID, orDash(b.BuildNumber), b.Status, fmtTime(&b.StartedAt), fmtDuration(buildDuration(b, now)))
	}
	return tw.Flush()
}

func newBuildsAbortCmd(sf *serverFlags) *cobra.Command {
	var out outputFlag
	cmd := &cobra.Command{
		Use:   "abort ID",
		Short: "Abort a build (its processes are killed) and show it",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := out.validate(); err != nil {
				return err
			}
			b, err := sf.client().Build(args[0]).Abort(cmd.Context())
			if err != nil {
				return err
			}
			return out.print(cmd.OutOrStdout(), b, func(w io.Writer) error { return printBuild(w, b) })
		},
	}
	out.register(cmd)
	return cmd
}

// printBuild prints one build.
func printBuild(w io.Writer, b *client.Build) error {
	tw := newTable(w)
	fmt.Fprintf(tw, "ID:\t%s\n", b.ID)
	fmt.Fprintf(tw, "Actor:\t%s\n", b.ActID)
	fmt.Fprintf(tw, "Number:\t%s\n", orDash(b.BuildNumber))
	fmt.Fprintf(tw, "Status:\t%s\n", b.Status)
	fmt.Fprintf(tw, "Status message:\t%s\n", orDash(b.StatusMessage))
	fmt.Fprintf(tw, "Started:\t%s\n", fmtTime(&b.StartedAt))
	fmt.Fprintf(tw, "Finished:\t%s\n", fmtTime(b.FinishedAt))
	fmt.Fprintf(tw, "Duration:\t%s\n", fmtDuration(buildDuration(b, troupe.Now())))
	timeout := "-"
	if b.Options.TimeoutSecs > 0 {
		timeout = strconv.Itoa(b.Options.TimeoutSecs) + "s"
	}
	fmt.Fprintf(tw, "Timeout:\t%s\n", timeout)
	return tw.Flush()
}
