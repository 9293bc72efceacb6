package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/troupehq/troupe"
	"github.com/troupehq/troupe/client"
)

func newRunsCmd(sf *serverFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "runs",
		Short: "List, inspect and steer runs",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return cmd.Help()
		},
	}
	cmd.AddCommand(
		newRunsLsCmd(sf),
		newRunsWatchCmd(sf),
		newRunsGetCmd(sf),
		newRunsWaitCmd(sf),
		newRunsAbortCmd(sf),
		newRunsMetamorphCmd(sf),
		newRunsRebootCmd(sf),
		newRunsResurrectCmd(sf),
		newRunsUpdateCmd(sf),
		newRunsRmCmd(sf),
		newRunsLogCmd(sf),
	)
	return cmd
}

func newRunsLsCmd(sf *serverFlags) *cobra.Command {
	var (
		out      outputFlag
		actor    string
		statuses []string
		limit    int
		offset   int
		desc     bool
	)
	cmd := &cobra.Command{
		Use:   "ls",
		Short: "List runs, newest first, of all actors or of one",
		Long: `Ls lists runs, newest first (--desc=false: oldest first), with the names of
their actors, status, start, duration and status message. The table reads
each distinct actor once to name it; -o json and -o yaml print the list as
the API gives it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := out.validate(); err != nil {
				return err
			}
			st, err := parseStatuses(statuses)
			if err != nil {
				return err
			}
			if limit < 0 || offset < 0 {
				return fmt.Errorf("--limit and --offset must not be negative")
			}
			c := sf.client()
			runs := c.Runs()
			if actor != "" {
				ref, err := actorRef(cmd.Context(), c, actor)
				if err != nil {
					return err
				}
				runs = c.Actor(ref).Runs()
			}
			page, err := runs.List(cmd.Context(), &client.RunListOptions{Offset: offset, Limit: limit, Desc: desc, Status: st})
			if err != nil {
				return err
			}
			return out.print(cmd.OutOrStdout(), page, func(w io.Writer) error {
				names := newActorNames(c)
				return printRunTable(w, page.Items, func(id string) string { return names.name(cmd.Context(), id) })
			})
		},
	}
	out.register(cmd)
	cmd.Flags().StringVar(&actor, "actor", "", `only runs of this actor (id, "username/name" or name)`)
	cmd.Flags().StringSliceVar(&statuses, "status", nil, "only runs with this status (repeat or comma-separate for several)")
	cmd.Flags().IntVar(&limit, "limit", 0, "list at most this many runs (default: the server's, 1000)")
	cmd.Flags().IntVar(&offset, "offset", 0, "skip this many runs")
	cmd.Flags().BoolVar(&desc, "desc", true, "newest first")
	_ = cmd.RegisterFlagCompletionFunc("actor", sf.completeActors)
	_ = cmd.RegisterFlagCompletionFunc("status", cobra.FixedCompletions(statusNames(), cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// runColumns is the header of run tables.
var runColumns = []string{"ID", "ACTOR", "STATUS", "STARTED", "DURATION", "BUILD", "STATUS MESSAGE"}

// runRow is the cells of a run in run tables; actor names its actor.
func runRow(r *client.Run, actor string, now time.Time) []string {
	return []string{r.ID, actor, string(r.Status), fmtTime(&r.StartedAt),
		fmtDuration(runDuration(r, now)), orDash(r.BuildNumber), oneLine(deref(r.StatusMessage), 60)}
}

// printRunTable prints one line per run; actor names an actor id.
func printRunTable(w io.Writer, runs []*client.Run, actor func(id string) string) error {
	tw := newTable(w)
	fmt.Fprintln(tw, strings.Join(runColumns, "\t"))
	now := troupe.Now()
	for _, r := range runs {
		fmt.Fprintln(tw, strings.Join(runRow(r, actor(r.ActID), now), "\t"))
	}
	return tw.Flush()
}

// printRun prints a run's details, one per line.
func printRun(w io.Writer, r *client.Run) error {
	tw := newTable(w)
	fmt.Fprintf(tw, "ID:\t%s\n", r.ID)
	fmt.Fprintf(tw, "Actor:\t%s\n", r.ActID)
	fmt.Fprintf(tw, "Status:\t%s\n", r.Status)
	fmt.Fprintf(tw, "Status message:\t%s\n", deref(r.StatusMessage))
	fmt.Fprintf(tw, "Build:\t%s\n", orDash(r.BuildNumber))
	fmt.Fprintf(tw, "Origin:\t%s\n", orDash(r.Meta.Origin))
	fmt.Fprintf(tw, "Started:\t%s\n", fmtTime(&r.StartedAt))
	fmt.Fprintf(tw, "Finished:\t%s\n", fmtTime(r.FinishedAt))
	fmt.Fprintf(tw, "Duration:\t%s\n", fmtDuration(runDuration(r, troupe.Now())))
	exit := "-"
	if r.ExitCode != nil {
		exit = strconv.Itoa(*r.ExitCode)
	}
	fmt.Fprintf(tw, "Exit code:\t%s\n", exit)
	fmt.Fprintf(tw, "Memory:\t%d MB\n", r.Options.MemoryMbytes)
	timeout := "none"
	if r.Options.TimeoutSecs > 0 {
		timeout = strconv.Itoa(r.Options.TimeoutSecs) + "s"
	}
	fmt.Fprintf(tw, "Timeout:\t%s\n", timeout)
	if s := r.Stats; s.RebootCount+s.ResurrectCount+len(r.Metamorphs)+s.RestartCount > 0 {
		fmt.Fprintf(tw, "Restarts:\t%d reboots, %d resurrects, %d metamorphs, %d restarts\n",
			s.RebootCount, s.ResurrectCount, len(r.Metamorphs), s.RestartCount)
	}
	fmt.Fprintf(tw, "Key-value store:\t%s\n", orDash(r.DefaultKeyValueStoreID))
	fmt.Fprintf(tw, "Dataset:\t%s\n", orDash(r.DefaultDatasetID))
	fmt.Fprintf(tw, "Request queue:\t%s\n", orDash(r.DefaultRequestQueueID))
	return tw.Flush()
}

// runCmd makes a command that takes a run id, does something with it and
// prints the run it gets back.
func runCmd(sf *serverFlags, use, short string, nargs int, do func(cmd *cobra.Command, c *client.Client, args []string) (*client.Run, error)) *cobra.Command {
	out := &outputFlag{}
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.ExactArgs(nargs),
		// The first argument is always a run id.
		ValidArgsFunction: sf.completeRunID,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := out.validate(); err != nil {
				return err
			}
			r, err := do(cmd, sf.client(), args)
			if err != nil {
				return err
			}
			return out.print(cmd.OutOrStdout(), r, func(w io.Writer) error { return printRun(w, r) })
		},
	}
	out.register(cmd)
	return cmd
}

func newRunsGetCmd(sf *serverFlags) *cobra.Command {
	cmd := runCmd(sf, "get ID", "Show a run", 1, func(cmd *cobra.Command, c *client.Client, args []string) (*client.Run, error) {
		r, err := c.Run(args[0]).Get(cmd.Context())
		if err == nil && r == nil {
			err = fmt.Errorf("run %s was not found", args[0])
		}
		return r, err
	})
	return cmd
}

func newRunsWaitCmd(sf *serverFlags) *cobra.Command {
	var timeout int
	var outcome error
	cmd := runCmd(sf, "wait ID", "Wait for a run to finish and show it", 1, func(cmd *cobra.Command, c *client.Client, args []string) (*client.Run, error) {
		if timeout < 0 {
			return nil, fmt.Errorf("--timeout must not be negative")
		}
		r, err := c.Run(args[0]).WaitForFinish(cmd.Context(), timeout)
		if err != nil {
			return nil, err
		}
		outcome = runOutcome(r)
		return r, nil
	})
	cmd.Long = "Wait waits until the run finishes (or --timeout seconds pass) and prints it.\nIt exits with an error unless the run SUCCEEDED."
	cmd.Flags().IntVar(&timeout, "timeout", 0, "wait at most this many seconds (0: as long as the run lasts)")
	// Print the run, then report how it ended.
	run := cmd.RunE
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if err := run(cmd, args); err != nil {
			return err
		}
		return outcome
	}
	return cmd
}

func newRunsAbortCmd(sf *serverFlags) *cobra.Command {
	var gracefully bool
	cmd := runCmd(sf, "abort ID", "Abort a run", 1, func(cmd *cobra.Command, c *client.Client, args []string) (*client.Run, error) {
		return c.Run(args[0]).Abort(cmd.Context(), gracefully)
	})
	cmd.Flags().BoolVar(&gracefully, "gracefully", false, "let the actor persist its state first (stopped after 30s)")
	return cmd
}

func newRunsMetamorphCmd(sf *serverFlags) *cobra.Command {
	var (
		in    inputFlags
		build string
	)
	cmd := runCmd(sf, "metamorph ID TARGET", "Turn a running run into a run of another actor", 2, func(cmd *cobra.Command, c *client.Client, args []string) (*client.Run, error) {
		input, ct, err := in.read(cmd)
		if err != nil {
			return nil, err
		}
		target, err := actorRef(cmd.Context(), c, args[1])
		if err != nil {
			return nil, err
		}
		return c.Run(args[0]).Metamorph(cmd.Context(), target, input, &client.MetamorphOptions{Build: build, ContentType: ct})
	})
	in.register(cmd)
	cmd.ValidArgsFunction = func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		if len(args) == 1 {
			return sf.completeActors(cmd, args, toComplete)
		}
		return sf.completeRunID(cmd, args, toComplete)
	}
	cmd.Flags().StringVar(&build, "build", "", "build tag or number of the target actor")
	return cmd
}

func newRunsRebootCmd(sf *serverFlags) *cobra.Command {
	cmd := runCmd(sf, "reboot ID", "Restart the process of a running run", 1, func(cmd *cobra.Command, c *client.Client, args []string) (*client.Run, error) {
		return c.Run(args[0]).Reboot(cmd.Context())
	})
	return cmd
}

func newRunsResurrectCmd(sf *serverFlags) *cobra.Command {
	var (
		build   string
		memory  int
		timeout int
	)
	cmd := runCmd(sf, "resurrect ID", "Bring a finished run back to life", 1, func(cmd *cobra.Command, c *client.Client, args []string) (*client.Run, error) {
		opts := &client.ResurrectOptions{Build: build}
		if cmd.Flags().Changed("memory") {
			opts.MemoryMbytes = client.Ptr(memory)
		}
		if cmd.Flags().Changed("timeout") {
			opts.TimeoutSecs = client.Ptr(timeout)
		}
		return c.Run(args[0]).Resurrect(cmd.Context(), opts)
	})
	cmd.Flags().StringVar(&build, "build", "", "build tag or number (default: the build the run used)")
	cmd.Flags().IntVar(&memory, "memory", 0, "memory in megabytes (default: the run's)")
	cmd.Flags().IntVar(&timeout, "timeout", 0, "timeout in seconds from now (0: none; default: the run's)")
	return cmd
}

func newRunsUpdateCmd(sf *serverFlags) *cobra.Command {
	var (
		msg      string
		terminal bool
	)
	cmd := runCmd(sf, "update ID", "Set a run's status message", 1, func(cmd *cobra.Command, c *client.Client, args []string) (*client.Run, error) {
		u := &client.RunUpdate{StatusMessage: &msg}
		if cmd.Flags().Changed("terminal") {
			u.IsStatusMessageTerminal = client.Ptr(terminal)
		}
		return c.Run(args[0]).Update(cmd.Context(), u)
	})
	cmd.Flags().StringVar(&msg, "status-message", "", "the status message")
	cmd.Flags().BoolVar(&terminal, "terminal", false, "keep the message when the run finishes")
	_ = cmd.MarkFlagRequired("status-message")
	return cmd
}

func newRunsRmCmd(sf *serverFlags) *cobra.Command {
	return &cobra.Command{
		Use:               "rm ID",
		Short:             "Delete a finished run and its log",
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: sf.completeRunID,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := sf.client().Run(args[0]).Delete(cmd.Context()); err != nil {
				return err
			}
			_, err := fmt.Fprintf(cmd.OutOrStdout(), "Deleted run %s.\n", args[0])
			return err
		},
	}
}

func newRunsLogCmd(sf *serverFlags) *cobra.Command {
	var follow bool
	cmd := &cobra.Command{
		Use:               "log ID",
		Short:             "Print a run's log",
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: sf.completeRunID,
		RunE: func(cmd *cobra.Command, args []string) error {
			return printLog(cmd.Context(), cmd.OutOrStdout(), sf.client().Run(args[0]).Log(), follow)
		},
	}
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "keep printing the log as it is written, until the run ends")
	return cmd
}

// printLog prints a log, or follows it until its job ends.
func printLog(ctx context.Context, w io.Writer, l *client.LogClient, follow bool) error {
	if !follow {
		text, err := l.Get(ctx)
		if err != nil {
			return err
		}
		_, err = io.WriteString(w, text)
		return err
	}
	rc, err := l.Stream(ctx)
	if err != nil {
		return err
	}
	defer rc.Close()
	_, err = io.Copy(w, rc)
	if ctx.Err() != nil {
		return nil // interrupted by the user
	}
	return err
}
