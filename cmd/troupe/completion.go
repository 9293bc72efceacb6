package main

import (
	"context"
	"time"

	"github.com/spf13/cobra"
	"github.com/troupehq/troupe/client"
)

// Dynamic completion asks the server, so it must stay cheap: one list
// request of a bounded size, without retries, given up after a short time.
const (
	completeLimit   = 200
	completeTimeout = 2 * time.Second
)

// completionClient is the client completion uses: no retries, so that a
// server that is down does not stall the shell.
func (f *serverFlags) completionClient() *client.Client {
	return client.New(append(f.options(), client.WithMaxRetries(0))...)
}

// completeActors completes actor names (the first argument of a command,
// or a flag's value).
func (f *serverFlags) completeActors(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	ctx, cancel := context.WithTimeout(cmd.Context(), completeTimeout)
	defer cancel()
	page, err := f.completionClient().Actors().List(ctx, &client.ActorListOptions{Limit: completeLimit, Desc: true})
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveError
	}
	var out []string
	for _, a := range page.Items {
		desc := a.Title
		if desc == "" {
			desc = a.ID
		}
		out = append(out, cobra.CompletionWithDesc(a.Name, desc))
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

// completeFirstActor completes the first argument as an actor name.
func (f *serverFlags) completeFirstActor(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	return f.completeActors(cmd, args, toComplete)
}

// completeRunID completes the first argument as the id of a recent run,
// newest first, described by its status and actor id.
func (f *serverFlags) completeRunID(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	ctx, cancel := context.WithTimeout(cmd.Context(), completeTimeout)
	defer cancel()
	page, err := f.completionClient().Runs().List(ctx, &client.RunListOptions{Limit: completeLimit, Desc: true})
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveError
	}
	var out []string
	for _, r := range page.Items {
		out = append(out, cobra.CompletionWithDesc(r.ID, string(r.Status)+" "+fmtTime(&r.StartedAt)))
	}
	return out, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveKeepOrder
}
