package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"github.com/troupehq/troupe/client"
)

func newWebhooksCmd(sf *serverFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "webhooks",
		Short: "List, create, delete and test webhooks; list their dispatches",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return cmd.Help()
		},
	}
	cmd.AddCommand(newWebhooksLsCmd(sf), newWebhooksCreateCmd(sf), newWebhooksRmCmd(sf),
		newWebhooksTestCmd(sf), newWebhooksDispatchesCmd(sf))
	return cmd
}

func newWebhooksLsCmd(sf *serverFlags) *cobra.Command {
	var (
		out   outputFlag
		actor string
		lo    listFlags
	)
	cmd := &cobra.Command{
		Use:   "ls",
		Short: "List webhooks (of one actor with --actor)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := out.validate(); err != nil {
				return err
			}
			opts, err := lo.options()
			if err != nil {
				return err
			}
			c := sf.client()
			wc := c.Webhooks()
			if actor != "" {
				ref, err := actorRef(cmd.Context(), c, actor)
				if err != nil {
					return err
				}
				wc = c.Actor(ref).Webhooks()
			}
			page, err := wc.List(cmd.Context(), opts)
			if err != nil {
				return err
			}
			return out.print(cmd.OutOrStdout(), page, func(w io.Writer) error {
				tw := newTable(w)
				fmt.Fprintln(tw, "ID\tEVENTS\tCONDITION\tURL\tDISPATCHES\tLAST")
				for _, h := range page.Items {
					last := "-"
					if h.LastDispatch != nil {
						last = h.LastDispatch.Status
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\n", h.ID, strings.Join(h.EventTypes, ","),
						condition(h.Condition), h.RequestURL, h.Stats.TotalDispatches, last)
				}
				return tw.Flush()
			})
		},
	}
	out.register(cmd)
	lo.register(cmd, "webhooks")
	cmd.Flags().StringVar(&actor, "actor", "", `list only the webhooks of this actor (an id, "username/name" or name)`)
	return cmd
}

// condition shows what a webhook follows.
func condition(c client.WebhookCondition) string {
	switch {
	case c.ActorID != "":
		return "actor " + c.ActorID
	case c.ActorTaskID != "":
		return "task " + c.ActorTaskID
	case c.ActorRunID != "":
		return "run " + c.ActorRunID
	}
	return "-"
}

func newWebhooksCreateCmd(sf *serverFlags) *cobra.Command {
	var (
		out                       outputFlag
		events                    []string
		actor, task, run          string
		payload, headers, desc    string
		interpolate, noRetry, ssl bool
	)
	cmd := &cobra.Command{
		Use:   "create URL",
		Short: "Create a webhook that POSTs to URL when an event happens to an actor, task or run",
		Example: `  troupe webhooks create https://example.com/hook --actor hello --event ACTOR.RUN.SUCCEEDED --event ACTOR.RUN.FAILED
  troupe webhooks create http://127.0.0.1:9000/ --run RUN_ID --event ACTOR.RUN.SUCCEEDED --payload '{"run": {{resource}}}'`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := out.validate(); err != nil {
				return err
			}
			c := sf.client()
			cond := &client.WebhookCondition{ActorTaskID: task, ActorRunID: run}
			if actor != "" {
				ref, err := actorRef(cmd.Context(), c, actor)
				if err != nil {
					return err
				}
				a, err := c.Actor(ref).Get(cmd.Context())
				if err != nil {
					return err
				}
				if a == nil {
					return fmt.Errorf("actor %s was not found", actor)
				}
				cond.ActorID = a.ID
			}
			f := &client.WebhookFields{EventTypes: events, Condition: cond, RequestURL: args[0],
				PayloadTemplate: payload, HeadersTemplate: headers, Description: desc}
			if interpolate {
				f.ShouldInterpolateStrings = client.Ptr(true)
			}
			if noRetry {
				f.DoNotRetry = client.Ptr(true)
			}
			if ssl {
				f.IgnoreSslErrors = client.Ptr(true)
			}
			h, err := c.Webhooks().Create(cmd.Context(), f)
			if err != nil {
				return err
			}
			return out.print(cmd.OutOrStdout(), h, func(w io.Writer) error {
				_, err := fmt.Fprintln(w, h.ID)
				return err
			})
		},
	}
	out.register(cmd)
	fl := cmd.Flags()
	fl.StringArrayVar(&events, "event", nil, "event type, e.g. ACTOR.RUN.SUCCEEDED (repeat for several)")
	fl.StringVar(&actor, "actor", "", `follow this actor (an id, "username/name" or name)`)
	fl.StringVar(&task, "task", "", "follow this actor task (id)")
	fl.StringVar(&run, "run", "", "follow this run (id)")
	fl.StringVar(&payload, "payload", "", "payload template (default: Apify's, with userId, createdAt, eventType, eventData and resource)")
	fl.StringVar(&headers, "headers", "", "headers template: a JSON object")
	fl.StringVar(&desc, "description", "", "description")
	fl.BoolVar(&interpolate, "interpolate-strings", false, "replace {{variables}} inside JSON strings too")
	fl.BoolVar(&noRetry, "no-retry", false, "make one call only, never retry")
	fl.BoolVar(&ssl, "ignore-ssl-errors", false, "do not check the receiver's certificate")
	return cmd
}

func newWebhooksRmCmd(sf *serverFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "rm ID...",
		Short: "Delete webhooks (their dispatches under way are still delivered)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c := sf.client()
			for _, id := range args {
				h, err := c.Webhook(id).Get(cmd.Context())
				if err != nil {
					return err
				}
				if h == nil {
					return fmt.Errorf("webhook %s was not found", id)
				}
				if err := c.Webhook(id).Delete(cmd.Context()); err != nil {
					return err
				}
			}
			return nil
		},
	}
}

func newWebhooksTestCmd(sf *serverFlags) *cobra.Command {
	var out outputFlag
	cmd := &cobra.Command{
		Use:   "test ID",
		Short: "Send a TEST event to a webhook; show its dispatch",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := out.validate(); err != nil {
				return err
			}
			d, err := sf.client().Webhook(args[0]).Test(cmd.Context())
			if err != nil {
				return err
			}
			return out.print(cmd.OutOrStdout(), d, func(w io.Writer) error {
				_, err := fmt.Fprintf(w, "dispatch %s %s\n", d.ID, d.Status)
				return err
			})
		},
	}
	out.register(cmd)
	return cmd
}

func newWebhooksDispatchesCmd(sf *serverFlags) *cobra.Command {
	var (
		out outputFlag
		lo  listFlags
	)
	cmd := &cobra.Command{
		Use:   "dispatches [WEBHOOK_ID]",
		Short: "List webhook dispatches (of one webhook) with the outcome of their calls",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := out.validate(); err != nil {
				return err
			}
			opts, err := lo.options()
			if err != nil {
				return err
			}
			c := sf.client()
			var page *client.WebhookDispatchList
			if len(args) == 1 {
				page, err = c.Webhook(args[0]).Dispatches(cmd.Context(), opts)
			} else {
				page, err = c.WebhookDispatches(cmd.Context(), opts)
			}
			if err != nil {
				return err
			}
			return out.print(cmd.OutOrStdout(), page, func(w io.Writer) error {
				tw := newTable(w)
				fmt.Fprintln(tw, "ID\tWEBHOOK\tEVENT\tSTATUS\tCALLS\tLAST CALL\tCREATED")
				for _, d := range page.Items {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\n", d.ID, d.WebhookID, d.EventType, d.Status,
						len(d.Calls), lastCall(d.Calls), fmtTime(&d.CreatedAt))
				}
				return tw.Flush()
			})
		},
	}
	out.register(cmd)
	lo.register(cmd, "dispatches")
	return cmd
}

// lastCall sums up the latest call of a dispatch.
func lastCall(calls []client.WebhookCall) string {
	if len(calls) == 0 {
		return "-"
	}
	c := calls[len(calls)-1]
	switch {
	case c.ErrorMessage != nil:
		return *c.ErrorMessage
	case c.ResponseStatus != nil:
		return fmt.Sprintf("HTTP %d", *c.ResponseStatus)
	}
	return "-"
}

// listFlags are the paging flags of a list command.
type listFlags struct {
	limit, offset int
	desc          bool
}

func (l *listFlags) register(cmd *cobra.Command, what string) {
	cmd.Flags().IntVar(&l.limit, "limit", 0, "list at most this many "+what+" (default: the server's, 1000)")
	cmd.Flags().IntVar(&l.offset, "offset", 0, "skip this many "+what)
	cmd.Flags().BoolVar(&l.desc, "desc", false, "newest first")
}

func (l *listFlags) options() (*client.ListOptions, error) {
	if l.limit < 0 || l.offset < 0 {
		return nil, fmt.Errorf("--limit and --offset must not be negative")
	}
	return &client.ListOptions{Offset: l.offset, Limit: l.limit, Desc: l.desc}, nil
}
