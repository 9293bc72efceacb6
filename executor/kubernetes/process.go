package kubernetes

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/troupehq/troupe"
)

// MaxLineBytes is the longest line delivered to ExecSpec.Output in one call;
// a longer one arrives in pieces of this size, as from the process executor.
const MaxLineBytes = 8 << 20

// fatalWaiting are the reasons a container waits for that it will not get
// over by itself.
var fatalWaiting = map[string]bool{
	"ErrImagePull": true, "ImagePullBackOff": true, "InvalidImageName": true, "ErrImageNeverPull": true,
	"CreateContainerConfigError": true, "CreateContainerError": true,
}

// lostReasons are the reasons of a failed pod whose process was lost with
// its pod (evicted, node shut down).
var lostReasons = map[string]bool{"Evicted": true, "Shutdown": true, "NodeShutdown": true, "Terminated": true, "NodeLost": true}

// Process is a run process in a pod.
type Process struct {
	e      *Executor
	name   string
	output func(string)
	skip   int64 // outputs an earlier server delivered (Adopt)

	done    chan struct{}
	changed chan struct{} // signalled on each pod event, for the log follower

	mu         sync.Mutex
	exit       troupe.ExitStatus
	final      bool // exit is known
	killed     bool
	gone       bool // the pod no longer exists
	logsState  int  // 0 not started, 1 following, 2 drained
	closed     bool
	created    time.Time
	cancelLogs context.CancelFunc
	// cutScheduled says the log stream is cut soon (the pod is gone).
	cutScheduled bool
}

// logCutDelay is how long the log stream of a pod that is gone may still
// deliver lines.
const logCutDelay = 5 * time.Second

var _ troupe.Process = (*Process)(nil)

func newProcess(e *Executor, name string, spec *troupe.ExecSpec, skip int64) *Process {
	out := spec.Output
	if out == nil {
		out = func(string) {}
	}
	return &Process{e: e, name: name, output: out, skip: skip,
		done: make(chan struct{}), changed: make(chan struct{}, 1)}
}

// PID is 0: the process has no pid on the server.
func (p *Process) PID() int { return 0 }

// StartTime is the pod's creation time (Unix seconds).
func (p *Process) StartTime() uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return uint64(max(0, p.created.Unix()))
}

// Done implements troupe.Process.
func (p *Process) Done() <-chan struct{} { return p.done }

// Exit implements troupe.Process.
func (p *Process) Exit() troupe.ExitStatus {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.exit
}

// Stats returns no figures: the cluster's metrics are not read.
func (p *Process) Stats() troupe.ProcessStats { return troupe.ProcessStats{} }

// Kill deletes the pod (its processes get a one-second grace period); the
// process ends as killed by SIGKILL.
func (p *Process) Kill() error {
	p.mu.Lock()
	if p.final || p.closed {
		p.mu.Unlock()
		return nil
	}
	p.killed = true
	p.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := p.e.deletePod(ctx, p.name, killGrace); err != nil {
		return fmt.Errorf("kill pod %s: %w", p.name, err)
	}
	return nil
}

// observe takes in the pod as the informer (or a direct read) sees it.
func (p *Process) observe(pod *corev1.Pod, deleted bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	if p.created.IsZero() {
		p.created = pod.CreationTimestamp.Time
	}
	select {
	case p.changed <- struct{}{}:
	default:
	}
	main := containerStatus(pod.Status.ContainerStatuses, mainContainer)
	if main != nil && (main.State.Running != nil || main.State.Terminated != nil) && p.logsState == 0 && !deleted {
		p.startLogs()
	}
	if deleted {
		p.gone = true
	}
	if !p.final {
		if st, ok := p.exitOf(pod, main, deleted); ok {
			p.exit, p.final = st, true
			if st.Failure != "" {
				p.e.deleteLater(p.name)
			}
		}
	}
	p.maybeDone()
}

// exitOf says how the process ended, if the pod shows it has.
func (p *Process) exitOf(pod *corev1.Pod, main *corev1.ContainerStatus, deleted bool) (troupe.ExitStatus, bool) {
	killed := troupe.ExitStatus{Code: -1, Signal: "SIGKILL"}
	term := (*corev1.ContainerStateTerminated)(nil)
	if main != nil {
		term = main.State.Terminated
	}
	switch {
	case p.killed && (deleted || term != nil):
		return killed, true
	case lostReasons[pod.Status.Reason] && pod.Status.Phase == corev1.PodFailed:
		return troupe.ExitStatus{Code: -1, Lost: true}, true
	case pod.DeletionTimestamp != nil || deleted:
		// Deleted by someone else than troupe: the process is lost, even
		// when its container ended from the deletion's signal.
		if deleted || term != nil {
			return troupe.ExitStatus{Code: -1, Lost: true}, true
		}
		return troupe.ExitStatus{}, false
	case term != nil:
		return terminated(term), true
	case pod.Status.Reason == "DeadlineExceeded":
		return killed, true
	}
	if init := containerStatus(pod.Status.InitContainerStatuses, initContainer); init != nil {
		if t := init.State.Terminated; t != nil && t.ExitCode != 0 {
			msg := strings.TrimSpace(t.Message)
			if i := strings.LastIndexByte(msg, '\n'); i >= 0 {
				msg = msg[i+1:]
			}
			return troupe.ExitStatus{Code: -1, Failure: "The pod could not fetch the build's archive: " + oneLine(msg)}, true
		}
		if w := init.State.Waiting; w != nil && fatalWaiting[w.Reason] {
			return troupe.ExitStatus{Code: -1, Failure: waitingFailure(pod, init, w)}, true
		}
	}
	if main != nil {
		if w := main.State.Waiting; w != nil && fatalWaiting[w.Reason] {
			return troupe.ExitStatus{Code: -1, Failure: waitingFailure(pod, main, w)}, true
		}
	}
	if pod.Status.Phase == corev1.PodFailed || pod.Status.Phase == corev1.PodSucceeded {
		// Ended without a status for the container (lost with its node).
		return troupe.ExitStatus{Code: -1, Lost: true}, true
	}
	return troupe.ExitStatus{}, false
}

// terminated maps a container's termination to an exit status: 128+N is
// death by signal N, as runtimes report it.
func terminated(t *corev1.ContainerStateTerminated) troupe.ExitStatus {
	if t.Reason == "OOMKilled" {
		return troupe.ExitStatus{Code: -1, Signal: "SIGKILL", OutOfMemory: true}
	}
	code := int(t.ExitCode)
	if t.Signal != 0 {
		return troupe.ExitStatus{Code: -1, Signal: unix.SignalName(unix.Signal(t.Signal))}
	}
	if code > 128 && code < 160 {
		if name := unix.SignalName(unix.Signal(code - 128)); name != "" {
			return troupe.ExitStatus{Code: -1, Signal: name}
		}
	}
	return troupe.ExitStatus{Code: code}
}

func waitingFailure(pod *corev1.Pod, c *corev1.ContainerStatus, w *corev1.ContainerStateWaiting) string {
	image := c.Image
	for _, ct := range append(append([]corev1.Container{}, pod.Spec.InitContainers...), pod.Spec.Containers...) {
		if ct.Name == c.Name {
			image = ct.Image
		}
	}
	switch w.Reason {
	case "ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull":
		return fmt.Sprintf("The cluster could not pull the image %s (%s); map it to one the cluster has with troupe serve --image-map.", image, w.Reason)
	}
	return fmt.Sprintf("The cluster could not create the run's container (%s: %s).", w.Reason, oneLine(w.Message))
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

func containerStatus(list []corev1.ContainerStatus, name string) *corev1.ContainerStatus {
	for i := range list {
		if list[i].Name == name {
			return &list[i]
		}
	}
	return nil
}

// maybeDone closes Done once the exit is known and the log drained; then
// the pod is deleted. p.mu is held.
func (p *Process) maybeDone() {
	if !p.final || p.closed {
		return
	}
	if p.logsState == 1 {
		if !p.gone {
			return // the follower ends by itself once the container is over
		}
		// The pod is gone: its log stream ends with its container, unless
		// the node went with it; a stream left hanging is cut.
		if p.cancelLogs != nil && !p.cutScheduled {
			p.cutScheduled = true
			time.AfterFunc(logCutDelay, p.cancelLogs)
		}
		return
	}
	p.closed = true
	p.e.unregister(p)
	if !p.gone {
		p.e.deleteLater(p.name)
	}
	close(p.done)
}

// startLogs starts following the main container's log. p.mu is held.
func (p *Process) startLogs() {
	p.logsState = 1
	ctx, cancel := context.WithCancel(p.e.ctx)
	p.cancelLogs = cancel
	go func() {
		defer cancel()
		p.follow(ctx)
		p.mu.Lock()
		p.logsState = 2
		p.maybeDone()
		p.mu.Unlock()
	}()
}

// follow streams the log into Output, resuming after the last line it
// delivered whenever the stream ends while the container still runs.
func (p *Process) follow(ctx context.Context) {
	r := &lineReader{adopted: p.skip, emit: p.output}
	for ctx.Err() == nil {
		opts := &corev1.PodLogOptions{Container: mainContainer, Follow: true, Timestamps: true}
		if t := r.resumeAt(); !t.IsZero() {
			st := metav1.NewTime(t.Truncate(time.Second))
			opts.SinceTime = &st
		}
		stream, err := p.e.client.CoreV1().Pods(p.e.ns).GetLogs(p.name, opts).Stream(ctx)
		if err == nil {
			err = r.read(stream)
			stream.Close()
		}
		p.mu.Lock()
		over := p.gone || p.final
		p.mu.Unlock()
		if over {
			return
		}
		if err != nil && !errors.Is(err, io.EOF) {
			p.e.log.Debug("kubernetes executor: pod log stream", "pod", p.name, "err", err)
		}
		// The stream ended while the container may still run: wait for the
		// next pod event (or a little, should none come) and resume.
		t := time.NewTimer(time.Second)
		select {
		case <-ctx.Done():
		case <-p.changed:
		case <-t.C:
		}
		t.Stop()
	}
}

// lineReader turns a timestamped pod log into lines for Output, skipping
// lines delivered already: the first outputs of an adopted process (those
// an earlier server stored), and on a resumed stream those this reader
// read before. The kubelet stamps each line as it reads it from its
// stream, so stdout and stderr lines are not in timestamp order in the
// log; what is exact is the order of the log, and a stream asked for since
// S holds exactly the log's lines stamped at or after S, in that order. A
// resumed stream therefore starts at a whole second S and skips as many
// lines as this reader delivered with stamps at or after S.
type lineReader struct {
	// adopted is how many outputs (calls of emit) are still to be dropped
	// as an earlier server delivered them.
	adopted int64
	emit    func(string)
	// perSecond counts the lines read (delivered or dropped as adopted)
	// per second of their stamp, for the last few seconds up to maxSec.
	perSecond map[int64]int
	maxSec    int64
	// skip is how many lines the current stream repeats.
	skip int
	// dropping says the line being read is not delivered.
	dropping bool
}

// keepSeconds is how many seconds of counts the reader keeps; a stream
// resumes one second before the newest line's.
const keepSeconds = 5

// resumeAt is the time a new stream should start from (zero: the start of
// the log).
func (r *lineReader) resumeAt() time.Time {
	if len(r.perSecond) == 0 {
		r.skip = 0
		return time.Time{}
	}
	from := r.maxSec - 1
	r.skip = 0
	for sec, n := range r.perSecond {
		if sec >= from {
			r.skip += n
		}
	}
	return time.Unix(from, 0)
}

// read delivers the lines of one stream until it ends. A line longer
// than MaxLineBytes is delivered in pieces as it arrives.
func (r *lineReader) read(rd io.Reader) error {
	br := bufio.NewReaderSize(rd, 64<<10)
	var line []byte
	cont := false // line continues one whose start was delivered
	for {
		frag, err := br.ReadSlice('\n')
		line = append(line, frag...)
		if errors.Is(err, bufio.ErrBufferFull) {
			if len(line) > 2*MaxLineBytes {
				n := len(line) - MaxLineBytes
				r.deliver(line[:n], cont)
				line, cont = append(line[:0], line[n:]...), true
			}
			continue
		}
		if len(line) > 0 {
			text := line
			if err == nil {
				text = bytes.TrimSuffix(bytes.TrimSuffix(text, []byte("\n")), []byte("\r"))
			}
			r.deliver(text, cont)
		}
		if err != nil {
			return err
		}
		line, cont = line[:0], false
	}
}

// deliver parses "TIMESTAMP text" and emits text unless it was delivered
// already; the continuation of a long line has no timestamp and follows
// its start.
func (r *lineReader) deliver(raw []byte, cont bool) {
	s := string(raw)
	if cont {
		if !r.dropping {
			r.emitPieces(s)
		}
		return
	}
	r.dropping = true
	tsText, text, ok := strings.Cut(s, " ")
	ts, err := time.Parse(time.RFC3339Nano, tsText)
	switch {
	case !ok || err != nil:
		r.dropping = false
		r.emitPieces(s)
		return
	case r.skip > 0:
		r.skip--
		return
	}
	if r.perSecond == nil {
		r.perSecond = map[int64]int{}
	}
	sec := ts.Unix()
	r.perSecond[sec]++
	if sec > r.maxSec {
		r.maxSec = sec
		for old := range r.perSecond {
			if old < sec-keepSeconds {
				delete(r.perSecond, old)
			}
		}
	}
	r.dropping = false
	r.emitPieces(text)
}

func (r *lineReader) emitPieces(s string) {
	for len(s) > MaxLineBytes {
		r.out(s[:MaxLineBytes])
		s = s[MaxLineBytes:]
	}
	r.out(s)
}

// out delivers one output, unless an earlier server delivered it.
func (r *lineReader) out(s string) {
	if r.adopted > 0 {
		r.adopted--
		return
	}
	r.emit(s)
}
