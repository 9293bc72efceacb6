package process

import (
	"testing"
	"time"

	"github.com/troupehq/troupe"
	"github.com/troupehq/troupe/internal/bwrap"
	"golang.org/x/sys/unix"
)

// BenchmarkSandboxSample times one sample of a live sandbox (a shell and
// a sleep), as the sampler takes it every second for every live run.
func BenchmarkSandboxSample(b *testing.B) {
	bin, err := bwrap.Find()
	if err != nil {
		b.Fatal(err)
	}
	e := New(Options{NoCgroup: true, Sandbox: &Sandbox{Bwrap: bin}})
	tp, err := e.Start(b.Context(), &troupe.ExecSpec{
		RunID: "bench", Generation: 1, Command: []string{"sh", "-c", "sleep 60 & wait"},
		Dir: b.TempDir(), Env: []string{"PATH=/usr/bin:/bin"},
	})
	if err != nil {
		b.Fatal(err)
	}
	p := tp.(*Process)
	b.Cleanup(func() {
		_ = p.Kill()
		<-p.Done()
	})
	root := -1
	for deadline := time.Now().Add(10 * time.Second); root < 0; {
		p.mu.Lock()
		info := p.sandbox
		p.mu.Unlock()
		if info.ChildPID != 0 && root < 0 {
			root, _ = openRoot(info.ChildPID, info.PIDNamespace)
		}
		if root >= 0 {
			if u, _ := sandboxUsage(root, ""); u.procs < 3 { // bwrap's, the shell, sleep
				unix.Close(root)
				root = -1
			}
		}
		if time.Now().After(deadline) {
			b.Fatal("the sandbox was not made within 10 s")
		}
		time.Sleep(time.Millisecond) // bwrap gives no sign when the sandbox is made
	}
	defer unix.Close(root)
	for b.Loop() {
		if u, err := sandboxUsage(root, ""); err != nil || u.procs < 3 {
			b.Fatalf("usage %+v, %v", u, err)
		}
	}
}
