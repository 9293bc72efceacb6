package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"github.com/troupehq/troupe/client"
)

func newTasksCmd(sf *serverFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "tasks",
		Aliases: []string{"task"},
		Short:   "Manage and run actor tasks (an actor with saved input and options)",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return cmd.Help()
		},
	}
	cmd.AddCommand(newTasksLsCmd(sf), newTasksGetCmd(sf), newTasksCreateCmd(sf), newTasksRunCmd(sf), newTasksRmCmd(sf))
	return cmd
}

// taskRef turns a task argument into what the API takes: an id, or the
// name of one of your tasks.
func taskRef(ctx context.Context, c *client.Client, arg string) (string, error) {
	if arg == "" {
		return "", fmt.Errorf("no task given")
	}
	if strings.ContainsAny(arg, "/~") {
		return arg, nil
	}
	t, err := c.Task(arg).Get(ctx)
	if err != nil {
		return "", err
	}
	if t == nil {
		return "~" + arg, nil
	}
	return arg, nil
}

func newTasksLsCmd(sf *serverFlags) *cobra.Command {
	var out outputFlag
	var lo listFlags
	cmd := &cobra.Command{
		Use:   "ls",
		Short: "List your actor tasks",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := out.validate(); err != nil {
				return err
			}
			opts, err := lo.options()
			if err != nil {
				return err
			}
			page, err := sf.client().Tasks().List(cmd.Context(), opts)
			if err != nil {
				return err
			}
			return out.print(cmd.OutOrStdout(), page, func(w io.Writer) error {
				tw := newTable(w)
				fmt.Fprintln(tw, "NAME\tID\tACTOR\tRUNS\tCREATED")
				for _, t := range page.Items {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", t.Name, t.ID, orDash(t.ActName), t.Stats.TotalRuns, fmtTime(&t.CreatedAt))
				}
				return tw.Flush()
			})
		},
	}
	out.register(cmd)
	lo.register(cmd, "tasks")
	return cmd
}

func newTasksGetCmd(sf *serverFlags) *cobra.Command {
	var out outputFlag
	cmd := &cobra.Command{
		Use:   "get TASK",
		Short: "Show an actor task: its actor, options and input",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := out.validate(); err != nil {
				return err
			}
			ctx := cmd.Context()
			c := sf.client()
			ref, err := taskRef(ctx, c, args[0])
			if err != nil {
				return err
			}
			t, err := c.Task(ref).Get(ctx)
			if err != nil {
				return err
			}
			if t == nil {
				return fmt.Errorf("task %q was not found", args[0])
			}
			return out.print(cmd.OutOrStdout(), t, func(w io.Writer) error { return printTask(w, t) })
		},
	}
	out.register(cmd)
	return cmd
}

func printTask(w io.Writer, t *client.Task) error {
	tw := newTable(w)
	fmt.Fprintf(tw, "Task:\t%s\n", t.Name)
	fmt.Fprintf(tw, "ID:\t%s\n", t.ID)
	fmt.Fprintf(tw, "Actor:\t%s\n", t.ActID)
	fmt.Fprintf(tw, "Runs:\t%d\n", t.Stats.TotalRuns)
	o, _ := json.Marshal(t.Options)
	fmt.Fprintf(tw, "Options:\t%s\n", o)
	in := string(t.Input)
	if in == "" {
		in = "null"
	}
	fmt.Fprintf(tw, "Input:\t%s\n", in)
	return tw.Flush()
}

// taskOptionFlags are the run options a task or a schedule action saves.
type taskOptionFlags struct {
	build   string
	timeout int
	memory  int
}

func (f *taskOptionFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.build, "build", "", "build tag or number (default: the actor's default build)")
	cmd.Flags().IntVar(&f.timeout, "timeout", 0, "run timeout in seconds (0: none; default: the actor's)")
	cmd.Flags().IntVar(&f.memory, "memory", 0, "memory in megabytes (default: the actor's)")
}

// options returns the options the flags set (nil when none).
func (f *taskOptionFlags) options(cmd *cobra.Command) *client.TaskOptions {
	var o client.TaskOptions
	set := false
	if cmd.Flags().Changed("build") {
		o.Build, set = client.Ptr(f.build), true
	}
	if cmd.Flags().Changed("timeout") {
		o.TimeoutSecs, set = client.Ptr(f.timeout), true
	}
	if cmd.Flags().Changed("memory") {
		o.MemoryMbytes, set = client.Ptr(f.memory), true
	}
	if !set {
		return nil
	}
	return &o
}

func newTasksCreateCmd(sf *serverFlags) *cobra.Command {
	var (
		out   outputFlag
		in    inputFlags
		opts  taskOptionFlags
		actor string
	)
	cmd := &cobra.Command{
		Use:   "create NAME --actor ACTOR",
		Short: "Create an actor task with saved input and run options",
		Long: `Create makes a task named NAME of ACTOR (an id, "username/name" or the name
of one of your actors). --input (a JSON object) is the task's input; a run of
the task gets it with the run's own input fields put over it. --build,
--timeout and --memory are the task's run options.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := out.validate(); err != nil {
				return err
			}
			input, ct, err := in.read(cmd)
			if err != nil {
				return err
			}
			if input != nil && !isJSONType(ct) {
				return fmt.Errorf("a task's input is a JSON object")
			}
			ctx := cmd.Context()
			c := sf.client()
			ref, err := actorRef(ctx, c, actor)
			if err != nil {
				return err
			}
			t, err := c.Tasks().Create(ctx, &client.TaskCreate{ActID: ref, Name: args[0], Options: opts.options(cmd), Input: input})
			if err != nil {
				return err
			}
			return out.print(cmd.OutOrStdout(), t, func(w io.Writer) error { return printTask(w, t) })
		},
	}
	out.register(cmd)
	in.register(cmd)
	opts.register(cmd)
	cmd.Flags().StringVar(&actor, "actor", "", "the task's actor (required)")
	_ = cmd.MarkFlagRequired("actor")
	_ = cmd.RegisterFlagCompletionFunc("actor", sf.completeActors)
	return cmd
}

func newTasksRunCmd(sf *serverFlags) *cobra.Command {
	var (
		out  outputFlag
		in   inputFlags
		opts taskOptionFlags
	)
	cmd := &cobra.Command{
		Use:   "run TASK",
		Short: "Run an actor task, follow its log and wait for it to finish",
		Long: `Run starts a run of TASK (an id, "username/name" or the name of one of your
tasks), with --input (a JSON object) put over the task's input, prints its
log to standard error as it is written, waits for the run to finish and
prints a summary. It exits with an error unless the run SUCCEEDED.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := out.validate(); err != nil {
				return err
			}
			input, ct, err := in.read(cmd)
			if err != nil {
				return err
			}
			so := &client.StartOptions{ContentType: ct}
			if o := opts.options(cmd); o != nil {
				so.TimeoutSecs, so.MemoryMbytes = o.TimeoutSecs, o.MemoryMbytes
				if o.Build != nil {
					so.Build = *o.Build
				}
			}
			ctx := cmd.Context()
			c := sf.client()
			ref, err := taskRef(ctx, c, args[0])
			if err != nil {
				return err
			}
			run, err := c.Task(ref).Start(ctx, input, so)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "Run %s of task %s started (build %s).\n", run.ID, args[0], run.BuildNumber)
			final, err := followRun(ctx, c, run, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			if err := out.print(cmd.OutOrStdout(), final, func(w io.Writer) error { return printRunSummary(w, final) }); err != nil {
				return err
			}
			return runOutcome(final)
		},
	}
	out.register(cmd)
	in.register(cmd)
	opts.register(cmd)
	return cmd
}

func newTasksRmCmd(sf *serverFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "rm TASK...",
		Short: "Delete actor tasks (their runs are kept)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			c := sf.client()
			for _, arg := range args {
				ref, err := taskRef(ctx, c, arg)
				if err != nil {
					return err
				}
				if t, err := c.Task(ref).Get(ctx); err != nil {
					return err
				} else if t == nil {
					return fmt.Errorf("task %q was not found", arg)
				}
				if err := c.Task(ref).Delete(ctx); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "Deleted task %s\n", arg)
			}
			return nil
		},
	}
}
