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

func newSchedulesCmd(sf *serverFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "schedules",
		Aliases: []string{"schedule"},
		Short:   "Manage schedules that run actors and tasks at cron times",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return cmd.Help()
		},
	}
	cmd.AddCommand(newSchedulesLsCmd(sf), newSchedulesGetCmd(sf), newSchedulesCreateCmd(sf),
		newSchedulesRmCmd(sf), newSchedulesLogCmd(sf))
	return cmd
}

// scheduleRef turns a schedule argument into what the API takes: an id,
// or the name of one of your schedules.
func scheduleRef(ctx context.Context, c *client.Client, arg string) (string, error) {
	if arg == "" {
		return "", fmt.Errorf("no schedule given")
	}
	if strings.ContainsAny(arg, "/~") {
		return arg, nil
	}
	s, err := c.Schedule(arg).Get(ctx)
	if err != nil {
		return "", err
	}
	if s == nil {
		return "~" + arg, nil
	}
	return arg, nil
}

// actionsText names what a schedule's actions start.
func actionsText(acts []client.ScheduleAction) string {
	var parts []string
	for _, a := range acts {
		if a.Type == client.ActionRunActorTask {
			parts = append(parts, "task "+a.ActorTaskID)
		} else {
			parts = append(parts, "actor "+a.ActorID)
		}
	}
	return orDash(strings.Join(parts, ", "))
}

func newSchedulesLsCmd(sf *serverFlags) *cobra.Command {
	var out outputFlag
	var lo listFlags
	cmd := &cobra.Command{
		Use:   "ls",
		Short: "List your schedules with their next run time",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := out.validate(); err != nil {
				return err
			}
			opts, err := lo.options()
			if err != nil {
				return err
			}
			page, err := sf.client().Schedules().List(cmd.Context(), opts)
			if err != nil {
				return err
			}
			return out.print(cmd.OutOrStdout(), page, func(w io.Writer) error {
				tw := newTable(w)
				fmt.Fprintln(tw, "NAME\tID\tCRON\tTIMEZONE\tENABLED\tNEXT RUN\tLAST RUN\tACTIONS")
				for _, s := range page.Items {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%t\t%s\t%s\t%s\n", s.Name, s.ID, s.CronExpression, s.Timezone,
						s.IsEnabled, fmtTime(s.NextRunAt), fmtTime(s.LastRunAt), actionsText(s.Actions))
				}
				return tw.Flush()
			})
		},
	}
	out.register(cmd)
	lo.register(cmd, "schedules")
	return cmd
}

func printSchedule(w io.Writer, s *client.Schedule) error {
	tw := newTable(w)
	fmt.Fprintf(tw, "Schedule:\t%s\n", s.Name)
	fmt.Fprintf(tw, "ID:\t%s\n", s.ID)
	fmt.Fprintf(tw, "Cron:\t%s (%s)\n", s.CronExpression, s.Timezone)
	fmt.Fprintf(tw, "Enabled:\t%t\n", s.IsEnabled)
	fmt.Fprintf(tw, "Exclusive:\t%t\n", s.IsExclusive)
	fmt.Fprintf(tw, "Next run:\t%s\n", fmtTime(s.NextRunAt))
	fmt.Fprintf(tw, "Last run:\t%s\n", fmtTime(s.LastRunAt))
	fmt.Fprintf(tw, "Actions:\t%s\n", actionsText(s.Actions))
	return tw.Flush()
}

func newSchedulesGetCmd(sf *serverFlags) *cobra.Command {
	var out outputFlag
	cmd := &cobra.Command{
		Use:   "get SCHEDULE",
		Short: "Show a schedule",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := out.validate(); err != nil {
				return err
			}
			ctx := cmd.Context()
			c := sf.client()
			ref, err := scheduleRef(ctx, c, args[0])
			if err != nil {
				return err
			}
			s, err := c.Schedule(ref).Get(ctx)
			if err != nil {
				return err
			}
			if s == nil {
				return fmt.Errorf("schedule %q was not found", args[0])
			}
			return out.print(cmd.OutOrStdout(), s, func(w io.Writer) error { return printSchedule(w, s) })
		},
	}
	out.register(cmd)
	return cmd
}

func newSchedulesCreateCmd(sf *serverFlags) *cobra.Command {
	var (
		out                  outputFlag
		in                   inputFlags
		opts                 taskOptionFlags
		cron, tz, actor, tsk string
		exclusive, disabled  bool
	)
	cmd := &cobra.Command{
		Use:   "create NAME --cron EXPR (--actor ACTOR | --task TASK)",
		Short: "Create a schedule that runs an actor or a task",
		Long: `Create makes a schedule named NAME that starts a run of ACTOR (with --input
and the run options --build, --timeout, --memory) or of TASK (with --input, a
JSON object, put over the task's input) at the times of the cron expression:
5 fields (minute hour day-of-month month day-of-week), 6 with seconds first,
or @hourly, @daily, @weekly, @monthly, @yearly. --timezone is an IANA name
(default UTC). With --exclusive a firing is skipped while the previous run
has not finished.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := out.validate(); err != nil {
				return err
			}
			if (actor == "") == (tsk == "") {
				return fmt.Errorf("give one of --actor and --task")
			}
			input, ct, err := in.read(cmd)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			c := sf.client()
			var act client.ScheduleAction
			if actor != "" {
				ref, err := actorRef(ctx, c, actor)
				if err != nil {
					return err
				}
				act = client.ScheduleAction{Type: client.ActionRunActor, ActorID: ref, RunOptions: opts.options(cmd)}
				if input != nil {
					act.RunInput = &client.ScheduleRunInput{Body: string(input), ContentType: ct}
				}
			} else {
				if opts.options(cmd) != nil {
					return fmt.Errorf("--build, --timeout and --memory go with --actor; a task has its own options")
				}
				if input != nil && !isJSONType(ct) {
					return fmt.Errorf("a task run's input is a JSON object")
				}
				ref, err := taskRef(ctx, c, tsk)
				if err != nil {
					return err
				}
				act = client.ScheduleAction{Type: client.ActionRunActorTask, ActorTaskID: ref, Input: json.RawMessage(input)}
			}
			f := &client.ScheduleFields{Name: client.Ptr(args[0]), CronExpression: client.Ptr(cron),
				IsEnabled: client.Ptr(!disabled), IsExclusive: client.Ptr(exclusive), Actions: []client.ScheduleAction{act}}
			if tz != "" {
				f.Timezone = client.Ptr(tz)
			}
			s, err := c.Schedules().Create(ctx, f)
			if err != nil {
				return err
			}
			return out.print(cmd.OutOrStdout(), s, func(w io.Writer) error { return printSchedule(w, s) })
		},
	}
	out.register(cmd)
	in.register(cmd)
	opts.register(cmd)
	cmd.Flags().StringVar(&cron, "cron", "", "cron expression (required)")
	cmd.Flags().StringVar(&tz, "timezone", "", "IANA time zone of the cron expression (default UTC)")
	cmd.Flags().StringVar(&actor, "actor", "", "the actor to run")
	cmd.Flags().StringVar(&tsk, "task", "", "the task to run")
	cmd.Flags().BoolVar(&exclusive, "exclusive", false, "skip a firing while the previous run has not finished")
	cmd.Flags().BoolVar(&disabled, "disabled", false, "create the schedule disabled")
	_ = cmd.MarkFlagRequired("cron")
	_ = cmd.RegisterFlagCompletionFunc("actor", sf.completeActors)
	return cmd
}

func newSchedulesRmCmd(sf *serverFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "rm SCHEDULE...",
		Short: "Delete schedules and their logs",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			c := sf.client()
			for _, arg := range args {
				ref, err := scheduleRef(ctx, c, arg)
				if err != nil {
					return err
				}
				if s, err := c.Schedule(ref).Get(ctx); err != nil {
					return err
				} else if s == nil {
					return fmt.Errorf("schedule %q was not found", arg)
				}
				if err := c.Schedule(ref).Delete(ctx); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "Deleted schedule %s\n", arg)
			}
			return nil
		},
	}
}

func newSchedulesLogCmd(sf *serverFlags) *cobra.Command {
	var out outputFlag
	cmd := &cobra.Command{
		Use:   "log SCHEDULE",
		Short: "Show a schedule's log: its firings and what each started",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := out.validate(); err != nil {
				return err
			}
			ctx := cmd.Context()
			c := sf.client()
			ref, err := scheduleRef(ctx, c, args[0])
			if err != nil {
				return err
			}
			log, err := c.Schedule(ref).Log(ctx)
			if err != nil {
				return err
			}
			return out.print(cmd.OutOrStdout(), log, func(w io.Writer) error {
				tw := newTable(w)
				fmt.Fprintln(tw, "TIME\tLEVEL\tMESSAGE")
				for _, e := range log {
					fmt.Fprintf(tw, "%s\t%s\t%s\n", fmtTime(&e.CreatedAt), e.Level, e.Message)
				}
				return tw.Flush()
			})
		},
	}
	out.register(cmd)
	return cmd
}
