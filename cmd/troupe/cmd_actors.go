package main

import (
	"context"
	"fmt"
	"io"
	"sync"

	"github.com/spf13/cobra"
	"github.com/troupehq/troupe/client"
	"golang.org/x/sync/errgroup"
)

// actorGetConcurrency bounds the actor reads `actors ls` makes at once to
// find each actor's latest build.
const actorGetConcurrency = 8

func newActorsCmd(sf *serverFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "actors",
		Aliases: []string{"actor"},
		Short:   "List actors",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return cmd.Help()
		},
	}
	cmd.AddCommand(newActorsLsCmd(sf))
	return cmd
}

func newActorsLsCmd(sf *serverFlags) *cobra.Command {
	var (
		out    outputFlag
		limit  int
		offset int
		desc   bool
	)
	cmd := &cobra.Command{
		Use:   "ls",
		Short: "List your actors with their latest build",
		Long: `Ls lists your actors: name, id, the build their default build tag (usually
"latest") points at, and when they were created. The table reads each actor
once to find its build; -o json and -o yaml print the list as the API gives it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := out.validate(); err != nil {
				return err
			}
			if limit < 0 || offset < 0 {
				return fmt.Errorf("--limit and --offset must not be negative")
			}
			ctx := cmd.Context()
			c := sf.client()
			page, err := c.Actors().List(ctx, &client.ActorListOptions{Offset: offset, Limit: limit, Desc: desc})
			if err != nil {
				return err
			}
			return out.print(cmd.OutOrStdout(), page, func(w io.Writer) error {
				builds, err := latestBuilds(ctx, c, page.Items)
				if err != nil {
					return err
				}
				tw := newTable(w)
				fmt.Fprintln(tw, "NAME\tID\tLATEST BUILD\tCREATED")
				for i, a := range page.Items {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", a.Name, a.ID, builds[i], fmtTime(&a.CreatedAt))
				}
				return tw.Flush()
			})
		},
	}
	out.register(cmd)
	cmd.Flags().IntVar(&limit, "limit", 0, "list at most this many actors (default: the server's, 1000)")
	cmd.Flags().IntVar(&offset, "offset", 0, "skip this many actors")
	cmd.Flags().BoolVar(&desc, "desc", false, "newest first")
	return cmd
}

// latestBuilds returns, for each actor, the number of the build its
// default build tag points at ("-" for none). The list of actors does not
// carry tags, so each actor is read, a few at a time.
func latestBuilds(ctx context.Context, c *client.Client, actors []*client.Actor) ([]string, error) {
	out := make([]string, len(actors))
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(actorGetConcurrency)
	for i, short := range actors {
		g.Go(func() error {
			out[i] = "-"
			a, err := c.Actor(short.ID).Get(ctx)
			if err != nil || a == nil {
				return err // nil for an actor deleted meanwhile
			}
			tag := a.DefaultRunOptions.Build
			if tag == "" {
				tag = "latest"
			}
			if tb := a.TaggedBuilds[tag]; tb != nil && tb.BuildNumber != "" {
				out[i] = tb.BuildNumber
			}
			return nil
		})
	}
	return out, g.Wait()
}

// actorNames resolves actor ids to names for tables: one read per distinct
// actor, remembered. An actor that cannot be read is shown by its id. It is
// safe for concurrent use.
type actorNames struct {
	c     *client.Client
	mu    sync.Mutex
	names map[string]string
}

func newActorNames(c *client.Client) *actorNames {
	return &actorNames{c: c, names: map[string]string{}}
}

// name returns the name of the actor with this id.
func (n *actorNames) name(ctx context.Context, id string) string {
	n.mu.Lock()
	defer n.mu.Unlock()
	if s, ok := n.names[id]; ok {
		return s
	}
	s := id
	if a, err := n.c.Actor(id).Get(ctx); err == nil && a != nil && a.Name != "" {
		s = a.Name
	}
	if ctx.Err() == nil {
		n.names[id] = s
	}
	return s
}
