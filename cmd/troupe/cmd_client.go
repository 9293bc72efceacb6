package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/troupehq/troupe"
	"github.com/troupehq/troupe/client"
	"sigs.k8s.io/yaml"
)

// Defaults of the client commands.
const (
	defaultServerURL = "http://127.0.0.1:8700"
	// cliMaxRetries and cliRetryDelay are lower than the library's defaults
	// so that a command fails within a few seconds when the server is down.
	cliMaxRetries = 3
	cliRetryDelay = 250 * time.Millisecond
)

// serverFlags are the flags every client command has: where the server is
// and the token to use.
type serverFlags struct {
	url   string
	token string
}

// register adds --url and --token to cmd and its subcommands.
func (f *serverFlags) register(cmd *cobra.Command) {
	cmd.PersistentFlags().StringVar(&f.url, "url", "", "server URL (default $TROUPE_URL, else "+defaultServerURL+")")
	cmd.PersistentFlags().StringVar(&f.token, "token", "", "API token (default $TROUPE_TOKEN)")
}

// serverURL is the server the flags (or the environment) name.
func (f *serverFlags) serverURL() string {
	u := f.url
	if u == "" {
		u = os.Getenv("TROUPE_URL")
	}
	if u == "" {
		u = defaultServerURL
	}
	return strings.TrimRight(u, "/")
}

// client returns a client of the server the flags (or the environment)
// name.
func (f *serverFlags) client() *client.Client {
	return client.New(f.options()...)
}

// options configure a client of the server the flags name.
func (f *serverFlags) options() []client.Option {
	tok := f.token
	if tok == "" {
		tok = os.Getenv("TROUPE_TOKEN")
	}
	return []client.Option{
		client.WithBaseURL(f.serverURL()),
		client.WithToken(tok),
		client.WithMaxRetries(cliMaxRetries),
		client.WithMinRetryDelay(cliRetryDelay),
		client.WithUserAgent("troupe-cli"),
	}
}

// actorRef turns the ACTOR argument of a command into a reference the API
// takes: an id, "username/name" or "~name". A bare word is tried as an
// id first and taken as the name of one of the user's actors when no actor
// has that id.
func actorRef(ctx context.Context, c *client.Client, arg string) (string, error) {
	if arg == "" {
		return "", fmt.Errorf("no actor given")
	}
	if strings.ContainsAny(arg, "/~") {
		return arg, nil
	}
	a, err := c.Actor(arg).Get(ctx)
	if err != nil {
		return "", err
	}
	if a == nil {
		return "~" + arg, nil
	}
	return arg, nil
}

// outputFlag is the -o flag of commands that print objects.
type outputFlag struct{ format string }

// outputFormats are the values -o takes.
var outputFormats = []string{"table", "json", "yaml"}

func (o *outputFlag) register(cmd *cobra.Command) {
	cmd.Flags().StringVarP(&o.format, "output", "o", "table", "output format: table, json or yaml")
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions(outputFormats, cobra.ShellCompDirectiveNoFileComp))
}

// validate checks the flag's value.
func (o *outputFlag) validate() error {
	if slices.Contains(outputFormats, o.format) {
		return nil
	}
	return fmt.Errorf("unknown output format %q (want table, json or yaml)", o.format)
}

// print writes v as indented JSON or as YAML (the same fields, converted
// from its JSON form), or calls table for the table format.
func (o *outputFlag) print(w io.Writer, v any, table func(io.Writer) error) error {
	switch o.format {
	case "json":
		return printJSON(w, v)
	case "yaml":
		b, err := yaml.Marshal(v)
		if err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	}
	return table(w)
}

// printJSON writes v as indented JSON.
func printJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

// newTable returns a tabwriter for aligned columns.
func newTable(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
}

// fmtTime formats a timestamp for tables ("-" for none).
func fmtTime(t *time.Time) string {
	if t == nil || t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04:05")
}

// fmtDuration formats a duration for people: 850ms, 12.3s, 4m5s.
func fmtDuration(d time.Duration) string {
	switch {
	case d < 0:
		return "-"
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	case d < time.Minute:
		return fmt.Sprintf("%.1fs", d.Seconds())
	default:
		return d.Round(time.Second).String()
	}
}

// runDuration is how long a run has been running: the server's figure
// when it has one (it leaves out the time between a finish and a
// resurrect), else the time from start to finish or to now.
func runDuration(r *client.Run, now time.Time) time.Duration {
	switch {
	case r.Stats.DurationMillis > 0:
		return time.Duration(r.Stats.DurationMillis) * time.Millisecond
	case r.FinishedAt != nil:
		return r.FinishedAt.Sub(r.StartedAt)
	case r.StartedAt.IsZero() || r.Status.Terminal():
		return 0
	}
	return now.Sub(r.StartedAt)
}

// buildDuration is how long a build took (or has taken so far).
func buildDuration(b *client.Build, now time.Time) time.Duration {
	if b.Stats.DurationMillis > 0 {
		return time.Duration(b.Stats.DurationMillis) * time.Millisecond
	}
	if b.FinishedAt != nil {
		return b.FinishedAt.Sub(b.StartedAt)
	}
	if b.StartedAt.IsZero() {
		return 0
	}
	return now.Sub(b.StartedAt)
}

// deref returns *s, or "-" for nil or empty.
func deref(s *string) string {
	if s == nil || *s == "" {
		return "-"
	}
	return *s
}

// oneLine shortens s to one line of at most n characters for a table cell.
func oneLine(s string, n int) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i] + "…"
	}
	if r := []rune(s); len(r) > n {
		s = string(r[:n-1]) + "…"
	}
	return s
}

// isTerminal reports whether w is a terminal that can redraw a status line.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok || os.Getenv("TERM") == "dumb" {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// parseStatuses turns "running,SUCCEEDED" style values into statuses.
func parseStatuses(vals []string) ([]string, error) {
	var out []string
	for _, v := range vals {
		for _, s := range strings.Split(v, ",") {
			s = strings.ToUpper(strings.TrimSpace(s))
			if s == "" {
				continue
			}
			if !client.Status(s).Valid() {
				return nil, fmt.Errorf("unknown status %q (want one of %s)", s, statusList())
			}
			out = append(out, s)
		}
	}
	return out, nil
}

func statusList() string { return strings.Join(statusNames(), ", ") }

// statusNames are the names of every run and build status.
func statusNames() []string {
	s := make([]string, len(troupe.Statuses))
	for i, st := range troupe.Statuses {
		s[i] = string(st)
	}
	return s
}
