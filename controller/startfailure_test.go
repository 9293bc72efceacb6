package controller_test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"github.com/troupehq/troupe"
	"github.com/troupehq/troupe/executor/process"
)

// A run whose process cannot start ends FAILED; the user learns why from the
// status message and the log, in words that give away nothing of the
// server (no server path, no secret).
func TestStartFailure(t *testing.T) {
	t.Parallel()
	const prefix = "Could not start the run's process: "
	secretPath := "/var/lib/troupe/secret-4f2a/builds"
	for _, tc := range []struct {
		name    string
		err     error
		command []string
		want    string
	}{{
		name: "ProgramNotFound",
		err:  fmt.Errorf("start process: %q: %w", secretPath+"/nodejs", exec.ErrNotFound),
		want: `the program "node" of the build's start command was not found.`,
	}, {
		name: "ProgramNotExecutable",
		err:  fmt.Errorf("start process: %w", &os.PathError{Op: "fork/exec", Path: secretPath + "/node", Err: syscall.EACCES}),
		want: `the program "node" of the build's start command may not be executed (permission denied).`,
	}, {
		name: "NotAProgram",
		err:  fmt.Errorf("start process: %w", &os.PathError{Op: "fork/exec", Path: secretPath + "/node", Err: syscall.ENOEXEC}),
		want: `the program "node" of the build's start command is not a program this server can run.`,
	}, {
		name: "SandboxFailure",
		err:  errors.New("sandbox: bind " + secretPath + " with TROUPE_TOKEN=abc123: operation not permitted"),
		want: "troupe could not launch it because of a problem on the server; the server's log has the details.",
	}, {
		name: "CodedError",
		err:  troupe.Errorf(troupe.ErrInvalidValue, "The memory limit of 1024 MB is more than this server allows."),
		want: "The memory limit of 1024 MB is more than this server allows.",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			c := b.controller("a")
			b.exec.FailStart(tc.err)
			r := b.createRun(c)
			r = b.waitStatus(r.ID, troupe.StatusFailed)
			wantEnd(t, r, troupe.StatusFailed, nil, prefix+tc.want)
			b.wantLog(r.ID, "[troupe] "+prefix+tc.want)
			for _, leak := range []string{"/var/lib", "secret", "abc123"} {
				if strings.Contains(deref(r.StatusMessage)+b.readLog(r.ID), leak) {
					t.Errorf("status message or log gives away %q", leak)
				}
			}
		})
	}

	t.Run("BuildFolderMissing", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		c := b.controller("a")
		must(t, os.RemoveAll(b.build.Dir))
		r := b.createRun(c)
		r = b.waitStatus(r.ID, troupe.StatusFailed)
		want := prefix + "the files of build 0.0.1 are missing on the server; build the actor again."
		wantEnd(t, r, troupe.StatusFailed, nil, want)
		b.wantLog(r.ID, want)
		if strings.Contains(deref(r.StatusMessage)+b.readLog(r.ID), b.build.Dir) {
			t.Error("status message or log gives away the build's folder")
		}
	})
	t.Run("BuildNotSucceeded", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		c := b.controller("a")
		_, err := b.store.UpdateBuild(t.Context(), b.build.ID, func(bld *troupe.Build) error {
			bld.Status = troupe.StatusFailed
			return nil
		})
		must(t, err)
		r := b.createRun(c)
		r = b.waitStatus(r.ID, troupe.StatusFailed)
		want := prefix + "Build 0.0.1 (" + b.build.ID + ") is FAILED and cannot be run."
		wantEnd(t, r, troupe.StatusFailed, nil, want)
		b.wantLog(r.ID, want)
	})
	// The real executor's errors are worded the same.
	for _, tc := range []struct{ name, program, want string }{
		{"RealExecutorNotFound", "troupe-no-such-program", `the program "troupe-no-such-program" of the build's start command was not found.`},
		{"RealExecutorNotExecutable", "./main.js", `the program "./main.js" of the build's start command may not be executed (permission denied).`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			b.actor, b.build = b.newActor("real", tc.program)
			c := b.newController("a", b.store, process.New(process.Options{}))
			must(t, c.Start(t.Context()))
			t.Cleanup(func() { c.Stop(true) })
			r := b.createRun(c)
			r = b.waitStatus(r.ID, troupe.StatusFailed)
			wantEnd(t, r, troupe.StatusFailed, nil, prefix+tc.want)
			b.wantLog(r.ID, prefix+tc.want)
		})
	}
}
