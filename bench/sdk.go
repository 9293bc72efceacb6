package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// ---- 10. an SDK actor, as a user times it ----------------------------------

// The user's view: a real, unmodified Apify SDK actor (compat/actors/
// sdk-start: Actor.init, getInput, pushData, setValue, exit; its Dockerfile
// ends with the templates' `CMD npm start --silent`) pushed with `troupe
// push`, whose build installs the `apify` package with npm. Each pair of
// runs times `troupe call` end to end (the CLI process: start, log stream,
// waitForFinish, summary) and `node main.js` run directly in a folder of
// links to the same build's files (as the run's own working folder is),
// with the same base environment, HOME and input, and a fresh local
// storage folder (APIFY_LOCAL_STORAGE_DIR, and CRAWLEE_STORAGE_DIR, which
// SDK 3 reads). The two alternate which goes
// first. Prerequisites: node and npm in PATH, and the npm registry (or an
// npm cache that holds the packages) for the build's npm install.

// sdkActorDir is the actor's project folder, relative to the module root.
const sdkActorDir = "compat/actors/sdk-start"

// sdkActorName is its name (.actor/actor.json).
const sdkActorName = "sdk-start"

// sdkInput is the input of both sides.
const sdkInput = `{"greeting":"hello from the benchmark"}`

// sdkRowName names the scenario's row.
const sdkRowName = "SDK actor: troupe call vs node main.js"

func (b *bench) sdkActor(ctx context.Context) ([]Row, error) {
	skip := func(why string) ([]Row, error) {
		b.prog.clear()
		fmt.Fprintf(b.prog.w, "bench: SDK actor scenario skipped: %s\n", why)
		return []Row{{Scenario: sdkRowName, Note: "skipped: " + why}}, nil
	}
	node, err := exec.LookPath("node")
	if err != nil {
		return skip("node is not in PATH (install Node.js 20 or later with npm)")
	}
	if _, err := exec.LookPath("npm"); err != nil {
		return skip("npm is not in PATH (the actor's build runs npm install)")
	}
	root, err := moduleRoot()
	if err != nil {
		return skip("the actor's project is read from " + sdkActorDir + " of the troupe module: run the benchmark inside it")
	}
	project := filepath.Join(root, sdkActorDir)

	cliEnv := append(os.Environ(), "TROUPE_URL="+b.srv.URL, "TROUPE_TOKEN="+benchToken)
	b.prog.set("SDK actor", "troupe push %s (npm install of the apify package)", sdkActorDir)
	pctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	push := exec.CommandContext(pctx, b.opts.troupeBin, "push", project)
	push.Env = cliEnv
	if out, err := push.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("troupe push %s: %v\n%s", sdkActorDir, err, tail(out))
	}
	actor, err := b.srv.client(1).Actor("~" + sdkActorName).Get(ctx)
	if err != nil || actor == nil || actor.TaggedBuilds["latest"] == nil {
		return nil, fmt.Errorf("actor %s has no latest build after push: %v", sdkActorName, err)
	}
	build := filepath.Join(b.srv.dataDir, "builds", actor.TaggedBuilds["latest"].BuildID)
	if build, err = filepath.Abs(build); err != nil {
		return nil, err
	}

	// The direct run's folder: links to the build's files, like a run's.
	work, err := os.MkdirTemp(b.tmp, "sdk-direct-")
	if err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(build)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		if err := os.Symlink(filepath.Join(build, e.Name()), filepath.Join(work, e.Name())); err != nil {
			return nil, err
		}
	}

	viaTroupe := func() (time.Duration, error) {
		cmd := exec.CommandContext(ctx, b.opts.troupeBin, "call", sdkActorName, "--input", sdkInput)
		cmd.Env = cliEnv
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		t0 := time.Now()
		err := cmd.Run()
		d := time.Since(t0)
		if err != nil {
			return 0, fmt.Errorf("troupe call %s: %v\n%s", sdkActorName, err, tail(out.Bytes()))
		}
		return d, nil
	}
	runN := 0
	direct := func() (time.Duration, error) {
		runN++
		storage := filepath.Join(b.tmp, fmt.Sprintf("sdk-storage-%d", runN))
		kvs := filepath.Join(storage, "key_value_stores", "default")
		if err := os.MkdirAll(kvs, 0o755); err != nil {
			return 0, err
		}
		if err := os.WriteFile(filepath.Join(kvs, "INPUT.json"), []byte(sdkInput), 0o644); err != nil {
			return 0, err
		}
		cmd := exec.CommandContext(ctx, node, "main.js")
		cmd.Dir = work
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "LANG=C.UTF-8", "HOME=" + work,
			"APIFY_LOCAL_STORAGE_DIR=" + storage, "CRAWLEE_STORAGE_DIR=" + storage}
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		t0 := time.Now()
		err := cmd.Run()
		d := time.Since(t0)
		if err != nil {
			return 0, fmt.Errorf("node main.js: %v\n%s", err, tail(out.Bytes()))
		}
		if _, err := os.Stat(filepath.Join(kvs, "OUTPUT.json")); err != nil {
			return 0, fmt.Errorf("node main.js stored no OUTPUT: %v\n%s", err, tail(out.Bytes()))
		}
		return d, nil
	}

	n := b.sizes.sdkRuns
	var tl, dl latencies
	for i := -1; i < n; i++ {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		b.prog.set("SDK actor", "%d/%d paired runs (troupe call, node main.js)", max(i+1, 0), n)
		var td, dd time.Duration
		var err error
		if i%2 == 0 {
			if td, err = viaTroupe(); err == nil {
				dd, err = direct()
			}
		} else {
			if dd, err = direct(); err == nil {
				td, err = viaTroupe()
			}
		}
		if err != nil {
			return nil, err
		}
		if i >= 0 {
			tl = append(tl, td)
			dl = append(dl, dd)
		}
	}
	r := latencyRow(sdkRowName, tl)
	r.vs("node main.js p50", *r.P50Ms, ms(dl.pct(50)), "p50")
	r.target("≤ 1.2× node", *r.Ratio, 1.2, true)
	r.Note = fmt.Sprintf("%d paired runs; node main.js p99 %s; Dockerfile CMD npm start --silent; %s",
		n, fmtDur(ms(dl.pct(99))), b.sandboxNote())
	return []Row{r}, nil
}

// tail is the end of a command's output, for an error message.
func tail(out []byte) string {
	if len(out) > 2000 {
		out = out[len(out)-2000:]
	}
	return string(out)
}
