package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"

	"github.com/troupehq/troupe/client"
	"golang.org/x/sys/unix"
)

// The benchmark's actors: each runs benchactor in one mode.
const (
	actorExit     = "bench-exit"     // prints its start and exits 0
	actorLinger   = "bench-linger"   // exits 0 after lingerMS
	actorSleep    = "bench-sleep"    // sleeps until killed
	actorGraceful = "bench-graceful" // exits 0 on the aborting event
)

// actorProgram is the file name of the program in every benchmark build.
const actorProgram = "bench-program.sh"

// maxRawProgram is the largest program shipped as is.
const maxRawProgram = 4 << 20

// lingerMS is how long bench-linger lives: long enough for a waiter to be
// blocked in waitForFinish before the actor exits.
const lingerMS = 50

// createActors creates the benchmark actors (one SOURCE_FILES version each:
// actor.json, a Dockerfile whose CMD runs the program, and the program
// itself) and builds them. The program ships in the build because a
// sandboxed run sees only its build and the system folders; it is named
// *.sh because the builder makes those files executable.
func (b *bench) createActors(ctx context.Context) error {
	c := b.srv.client(2)
	b.buildIDs = map[string]string{}
	for _, a := range []struct {
		name string
		bin  string
		args []string
	}{
		{actorExit, b.actorBin, []string{"exit"}},
		{actorLinger, b.actorBin, []string{"linger", strconv.Itoa(lingerMS)}},
		{actorSleep, b.actorBin, []string{"sleep"}},
		{actorGraceful, b.netBin, []string{"graceful"}},
	} {
		prog, err := os.ReadFile(a.bin)
		if err != nil {
			return err
		}
		argv := append([]string{"./" + actorProgram}, a.args...)
		if len(prog) > maxRawProgram {
			// Too big for a 9 MB request as base64: ship it gzipped and
			// unpack it into the run's /tmp at start.
			var buf bytes.Buffer
			zw := gzip.NewWriter(&buf)
			_, _ = zw.Write(prog)
			if err := zw.Close(); err != nil {
				return err
			}
			prog = buf.Bytes()
			argv = append([]string{"sh", "-c", `gunzip -c ` + actorProgram + ` >/tmp/p && chmod +x /tmp/p && exec /tmp/p "$@"`, "sh"}, a.args...)
		}
		cmd, _ := json.Marshal(argv)
		meta, _ := json.Marshal(map[string]any{"actorSpecification": 1, "name": a.name, "version": "0.0"})
		_, err = c.Actors().Create(ctx, &client.ActorCreate{
			Name: a.name,
			Versions: []client.Version{{
				VersionNumber: "0.0", SourceType: client.SourceFiles, BuildTag: "latest",
				SourceFiles: []client.SourceFile{
					{Name: ".actor", Folder: true},
					{Name: ".actor/actor.json", Format: "TEXT", Content: string(meta)},
					{Name: "Dockerfile", Format: "TEXT", Content: "FROM scratch\nCMD " + string(cmd) + "\n"},
					{Name: actorProgram, Format: "BASE64", Content: base64.StdEncoding.EncodeToString(prog)},
				},
			}},
			DefaultRunOptions: &client.DefaultRunOptions{Build: "latest", TimeoutSecs: 3600, MemoryMbytes: 256},
		})
		if err != nil && !isNameTaken(err) {
			return fmt.Errorf("create actor %s: %w", a.name, err)
		}
		bd, err := c.Actor("~"+a.name).Build(ctx, "0.0", &client.BuildOptions{WaitForFinish: 60})
		if err != nil {
			return fmt.Errorf("build actor %s: %w", a.name, err)
		}
		if !bd.Status.Terminal() {
			if bd, err = c.Build(bd.ID).WaitForFinish(ctx, 120); err != nil {
				return fmt.Errorf("build actor %s: %w", a.name, err)
			}
		}
		if bd.Status != client.StatusSucceeded {
			log, _ := c.Build(bd.ID).Log().Get(ctx)
			return fmt.Errorf("build of actor %s is %s:\n%s", a.name, bd.Status, log)
		}
		b.buildIDs[a.name] = bd.ID
	}
	return nil
}

func isNameTaken(err error) bool {
	var ce *client.Error
	return errors.As(err, &ce) && ce.Type == "actor-name-not-unique"
}

// monoNow reads CLOCK_MONOTONIC, the clock benchactor stamps its lines
// with.
func monoNow() int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		panic(err)
	}
	return ts.Nano()
}

// findStamp returns the clock value of the first "event N" in text (a run
// log, whose lines start with a timestamp, or benchactor's raw output).
func findStamp(text, event string) (int64, bool) {
	for _, line := range strings.Split(text, "\n") {
		i := strings.Index(line, event+" ")
		if i < 0 {
			continue
		}
		f := strings.Fields(line[i+len(event):])
		if len(f) == 0 {
			continue
		}
		if v, err := strconv.ParseInt(f[0], 10, 64); err == nil {
			return v, true
		}
	}
	return 0, false
}

// runLogStamp reads a run's log and returns the stamp of event.
func runLogStamp(ctx context.Context, c *client.Client, runID, event string) (int64, error) {
	log, err := c.Run(runID).Log().Get(ctx)
	if err != nil {
		return 0, fmt.Errorf("get log of %s: %w", runID, err)
	}
	v, ok := findStamp(log, event)
	if !ok {
		return 0, fmt.Errorf("the log of run %s has no %q line:\n%s", runID, event, log)
	}
	return v, nil
}

// waitLogEvent follows a run's log until the event's line appears.
func waitLogEvent(ctx context.Context, c *client.Client, runID, event string) error {
	stream, err := c.Run(runID).Log().Stream(ctx)
	if err != nil {
		return fmt.Errorf("stream log of %s: %w", runID, err)
	}
	defer stream.Close()
	sc := bufio.NewScanner(stream)
	var seen []string
	for sc.Scan() {
		if _, ok := findStamp(sc.Text(), event); ok {
			return nil
		}
		seen = append(seen, sc.Text())
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return fmt.Errorf("the log of run %s ended without %q:\n%s", runID, event, strings.Join(seen, "\n"))
}

// baselineProc is benchactor started directly by the benchmark.
type baselineProc struct {
	cmd *exec.Cmd
	out *bufio.Reader
	b   *bench
}

// startBaseline starts benchactor with args, its stdout on a pipe.
func (b *bench) startBaseline(args ...string) (*baselineProc, error) {
	return b.startProc(b.actorBin, args...)
}

// startProc starts bin with args, its stdout on a pipe.
func (b *bench) startProc(bin string, args ...string) (*baselineProc, error) {
	cmd := exec.Command(bin, args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	b.children.add(cmd)
	return &baselineProc{cmd: cmd, out: bufio.NewReader(stdout), b: b}, nil
}

// next reads output lines until the event's line and returns its stamp.
func (p *baselineProc) next(event string) (int64, error) {
	for {
		line, err := p.out.ReadString('\n')
		if v, ok := findStamp(line, event); ok {
			return v, nil
		}
		if err != nil {
			return 0, fmt.Errorf("benchactor output ended without %q: %w", event, err)
		}
	}
}

// wait drains the output and waits for the process to exit.
func (p *baselineProc) wait() error {
	_, _ = io.Copy(io.Discard, p.out)
	err := p.cmd.Wait()
	p.b.children.remove(p.cmd)
	return err
}

// checkStoreFlag fails clearly when the troupe binary has no --store flag
// (the PostgreSQL store is a later issue).
func checkStoreFlag(ctx context.Context, bin string) error {
	out, _ := exec.CommandContext(ctx, bin, "serve", "--help").CombinedOutput()
	if !strings.Contains(string(out), "--store") {
		return fmt.Errorf("--store: this troupe binary's serve command has no --store flag (only the embedded SQLite store is built)")
	}
	return nil
}

func splitArgs(s string) []string { return strings.Fields(s) }
