package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/troupehq/troupe"
	"github.com/troupehq/troupe/client"
)

// inputFlags are the flags that give a run its input.
type inputFlags struct {
	input       string
	inputFile   string
	contentType string
}

func (f *inputFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.input, "input", "", "input of the run (JSON unless --content-type says otherwise)")
	cmd.Flags().StringVar(&f.inputFile, "input-file", "", `file holding the input ("-" for standard input)`)
	cmd.Flags().StringVar(&f.contentType, "content-type", "", "content type of the input (default application/json)")
	cmd.MarkFlagsMutuallyExclusive("input", "input-file")
}

// read returns the input (nil when none was given) and its content type. A
// JSON input is checked before it is sent.
func (f *inputFlags) read(cmd *cobra.Command) ([]byte, string, error) {
	var in []byte
	switch {
	case cmd.Flags().Changed("input"):
		in = []byte(f.input)
	case f.inputFile == "-":
		b, err := io.ReadAll(cmd.InOrStdin())
		if err != nil {
			return nil, "", fmt.Errorf("read input: %w", err)
		}
		in = b
	case f.inputFile != "":
		b, err := os.ReadFile(f.inputFile)
		if err != nil {
			return nil, "", fmt.Errorf("read input: %w", err)
		}
		in = b
	default:
		if f.contentType != "" {
			return nil, "", fmt.Errorf("--content-type needs --input or --input-file")
		}
		return nil, "", nil
	}
	ct := f.contentType
	if ct == "" {
		ct = "application/json"
	}
	if isJSONType(ct) && !json.Valid(in) {
		return nil, "", fmt.Errorf("the input is not valid JSON (use --content-type for other formats)")
	}
	return in, ct, nil
}

func isJSONType(ct string) bool {
	mt, _, _ := strings.Cut(ct, ";")
	mt = strings.ToLower(strings.TrimSpace(mt))
	return mt == "application/json" || strings.HasSuffix(mt, "+json")
}

func newCallCmd(sf *serverFlags) *cobra.Command {
	var (
		in      inputFlags
		out     outputFlag
		build   string
		timeout int
		memory  int
	)
	cmd := &cobra.Command{
		Use:   "call ACTOR",
		Short: "Run an actor, follow its log and wait for it to finish",
		Long: `Call starts a run of ACTOR (an id, "username/name" or just the name of one
of your actors), prints its log to
standard error as it is written, waits for the run to finish and prints a
summary. It exits with an error unless the run SUCCEEDED.`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: sf.completeFirstActor,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := out.validate(); err != nil {
				return err
			}
			input, ct, err := in.read(cmd)
			if err != nil {
				return err
			}
			opts := &client.StartOptions{ContentType: ct, Build: build}
			if cmd.Flags().Changed("timeout") {
				opts.TimeoutSecs = client.Ptr(timeout)
			}
			if cmd.Flags().Changed("memory") {
				opts.MemoryMbytes = client.Ptr(memory)
			}
			ctx := cmd.Context()
			c := sf.client()
			ref, err := actorRef(ctx, c, args[0])
			if err != nil {
				return err
			}
			run, err := c.Actor(ref).Start(ctx, input, opts)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "Run %s started (build %s).\n", run.ID, run.BuildNumber)
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
	in.register(cmd)
	out.register(cmd)
	cmd.Flags().StringVar(&build, "build", "", "build tag or number (default: the actor's default build)")
	cmd.Flags().IntVar(&timeout, "timeout", 0, "run timeout in seconds (0: none; default: the actor's)")
	cmd.Flags().IntVar(&memory, "memory", 0, "memory in megabytes (default: the actor's)")
	return cmd
}

// printRunSummary prints the few facts about a finished run a caller needs.
func printRunSummary(w io.Writer, r *client.Run) error {
	tw := newTable(w)
	fmt.Fprintf(tw, "Run:\t%s\n", r.ID)
	fmt.Fprintf(tw, "Status:\t%s\n", r.Status)
	fmt.Fprintf(tw, "Status message:\t%s\n", deref(r.StatusMessage))
	fmt.Fprintf(tw, "Duration:\t%s\n", fmtDuration(runDuration(r, troupe.Now())))
	fmt.Fprintf(tw, "Key-value store:\t%s\n", orDash(r.DefaultKeyValueStoreID))
	fmt.Fprintf(tw, "Dataset:\t%s\n", orDash(r.DefaultDatasetID))
	return tw.Flush()
}

// runOutcome is the command's error for a run that did not succeed.
func runOutcome(r *client.Run) error {
	switch {
	case r.Status == client.StatusSucceeded:
		return nil
	case !r.Status.Terminal():
		return fmt.Errorf("run %s is still %s", r.ID, r.Status)
	case r.StatusMessage != nil && *r.StatusMessage != "":
		return fmt.Errorf("run %s %s: %s", r.ID, r.Status, *r.StatusMessage)
	}
	return fmt.Errorf("run %s %s", r.ID, r.Status)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
