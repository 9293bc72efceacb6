package kubernetes

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	listerv1 "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/troupehq/troupe"
)

var _ troupe.RemoteExecutor = (*Executor)(nil)

// Labels and annotations of troupe's pods.
const (
	LabelManagedBy  = "app.kubernetes.io/managed-by"
	managedBy       = "troupe"
	LabelRun        = "troupe.dev/run"
	LabelGeneration = "troupe.dev/generation"
	LabelActor      = "troupe.dev/actor"
	LabelBuild      = "troupe.dev/build"
	// AnnotationRun holds the run id (also in LabelRun), AnnotationInstance
	// the troupe server that created the pod, AnnotationImage the image the
	// build's Dockerfile names (before Options.ImageMap).
	AnnotationRun      = "troupe.dev/run-id"
	AnnotationInstance = "troupe.dev/created-by"
	AnnotationImage    = "troupe.dev/from-image"
)

// Container names in a run's pod.
const (
	initContainer = "fetch-build"
	mainContainer = "actor"
)

// DefaultWorkDir is where the build's files are unpacked and the process
// starts, the folder the Apify platform's images use.
const DefaultWorkDir = "/usr/src/app"

// runUID is the user (and group) id of every run's containers.
const runUID = 1000

// killGrace is the grace period of the delete that Kill sends.
const killGrace = 1

// Options configure an [Executor].
type Options struct {
	// Client talks to the cluster; Namespace holds the pods.
	Client    kubernetes.Interface
	Namespace string
	// APIURL is troupe's base URL as pods reach it, without "/v2".
	APIURL string
	// InitImage is the image of the container that fetches the build's
	// archive: it needs sh, wget, sha256sum and tar (busybox).
	InitImage string
	// ImageMap replaces images: a key is an image as a Dockerfile names
	// it, compared after normalising (node:20 is docker.io/library/node:20).
	ImageMap map[string]string
	// HostNetwork runs pods in the node's network namespace.
	HostNetwork bool
	// Instance names the troupe server in the pods' annotations.
	Instance string
	// WorkDir is where the process starts (default DefaultWorkDir).
	WorkDir string
	Logger  *slog.Logger
}

// Executor runs processes as pods. Create it with New; Close it.
type Executor struct {
	opts     Options
	client   kubernetes.Interface
	ns       string
	log      *slog.Logger
	imageMap map[string]string

	ctx    context.Context
	cancel context.CancelFunc

	startOnce sync.Once
	synced    chan struct{}
	lister    listerv1.PodNamespaceLister
	startErr  error

	mu    sync.Mutex
	procs map[string]*Process // by pod name

	// deletes are the deletions of finished pods under way (Close waits);
	// closed (under mu) says Close waits already.
	deletes sync.WaitGroup
	closed  bool
}

// New returns an executor. It starts watching pods on first use.
func New(opts Options) (*Executor, error) {
	if opts.Client == nil || opts.Namespace == "" {
		return nil, errors.New("kubernetes executor: a client and a namespace are required")
	}
	if opts.InitImage == "" {
		return nil, errors.New("kubernetes executor: an init image is required")
	}
	if opts.WorkDir == "" {
		opts.WorkDir = DefaultWorkDir
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	m := make(map[string]string, len(opts.ImageMap))
	for from, to := range opts.ImageMap {
		n, err := NormalizeImage(from)
		if err != nil {
			return nil, fmt.Errorf("image map: %w", err)
		}
		m[n] = to
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Executor{opts: opts, client: opts.Client, ns: opts.Namespace, log: opts.Logger, imageMap: m,
		ctx: ctx, cancel: cancel, synced: make(chan struct{}), procs: map[string]*Process{}}, nil
}

// Close stops watching pods and waits for the deletions of finished pods
// under way (each gives up after deleteTimeout). Pods that run keep
// running.
func (e *Executor) Close() {
	e.cancel()
	e.mu.Lock()
	e.closed = true
	e.mu.Unlock()
	e.deletes.Wait()
}

// deleteTimeout bounds the deletion of a finished pod.
const deleteTimeout = 10 * time.Second

// deleteLater deletes the pod of a process that ended, in the background.
func (e *Executor) deleteLater(name string) {
	e.mu.Lock()
	closed := e.closed
	if !closed {
		e.deletes.Add(1)
	}
	e.mu.Unlock()
	go func() {
		if !closed {
			defer e.deletes.Done()
		}
		ctx, cancel := context.WithTimeout(context.Background(), deleteTimeout)
		defer cancel()
		if err := e.deletePod(ctx, name, 0); err != nil {
			e.log.Warn("kubernetes executor: delete the pod of a finished run process", "pod", name, "err", err)
		}
	}()
}

// Namespace is the namespace of the pods.
func (e *Executor) Namespace() string { return e.ns }

// WorkDir implements troupe.RemoteExecutor.
func (e *Executor) WorkDir() string { return e.opts.WorkDir }

// KillOrphan does nothing: pods are found by their run (see Adopt).
func (e *Executor) KillOrphan(int, uint64) error { return nil }

// watch starts the informer once and waits until its cache is filled.
func (e *Executor) watch(ctx context.Context) error {
	e.startOnce.Do(func() {
		f := informers.NewSharedInformerFactoryWithOptions(e.client, 0, informers.WithNamespace(e.ns),
			informers.WithTweakListOptions(func(o *metav1.ListOptions) {
				o.LabelSelector = LabelManagedBy + "=" + managedBy
			}))
		inf := f.Core().V1().Pods()
		_, err := inf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc:    func(obj any) { e.observe(obj, false) },
			UpdateFunc: func(_, obj any) { e.observe(obj, false) },
			DeleteFunc: func(obj any) {
				if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
					obj = d.Obj
				}
				e.observe(obj, true)
			},
		})
		if err != nil {
			e.startErr = err
			close(e.synced)
			return
		}
		e.lister = inf.Lister().Pods(e.ns)
		f.Start(e.ctx.Done())
		go func() {
			if !cache.WaitForCacheSync(e.ctx.Done(), inf.Informer().HasSynced) {
				e.startErr = errors.New("kubernetes executor: stopped before the pod cache synced")
			}
			close(e.synced)
		}()
	})
	select {
	case <-e.synced:
		return e.startErr
	case <-ctx.Done():
		return ctx.Err()
	}
}

// observe hands a pod event to the process of that pod, if any.
func (e *Executor) observe(obj any, deleted bool) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	e.mu.Lock()
	p := e.procs[pod.Name]
	e.mu.Unlock()
	if p != nil {
		p.observe(pod, deleted)
	}
}

func (e *Executor) register(p *Process) {
	e.mu.Lock()
	e.procs[p.name] = p
	e.mu.Unlock()
}

func (e *Executor) unregister(p *Process) {
	e.mu.Lock()
	if e.procs[p.name] == p {
		delete(e.procs, p.name)
	}
	e.mu.Unlock()
}

// Start creates the pod of spec. When that pod exists already (a server
// stopped between creating it and recording it), it is adopted instead.
func (e *Executor) Start(ctx context.Context, spec *troupe.ExecSpec) (troupe.Process, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if spec == nil || len(spec.Command) == 0 {
		return nil, errors.New("start pod: empty command")
	}
	if spec.Image == "" {
		return nil, troupe.Errorf(troupe.ErrInvalidInput,
			"The build names no image: its Dockerfile needs a FROM line to run on Kubernetes; build the actor again.")
	}
	if err := e.watch(ctx); err != nil {
		return nil, fmt.Errorf("start pod: %w", err)
	}
	pod, err := e.podFor(spec, time.Now())
	if err != nil {
		return nil, err
	}
	e.deleteOtherGenerations(ctx, spec.RunID, spec.Generation)
	p := newProcess(e, pod.Name, spec, 0)
	e.register(p)
	created, err := e.client.CoreV1().Pods(e.ns).Create(ctx, pod, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		created, err = e.client.CoreV1().Pods(e.ns).Get(ctx, pod.Name, metav1.GetOptions{})
		if err == nil && created.DeletionTimestamp != nil {
			err = fmt.Errorf("pod %s of this generation is being deleted", pod.Name)
		}
	}
	if err != nil {
		e.unregister(p)
		return nil, fmt.Errorf("start pod: %w", err)
	}
	p.observe(created, false)
	return p, nil
}

// Adopt implements troupe.RemoteExecutor: the main container's log is read
// again from its start, and its first skip outputs are not delivered. The
// kubelet's log keeps the order in which the container wrote its lines
// (stdout and stderr lines included, whatever their timestamps), so the
// outputs skipped are exactly those an earlier server delivered; that holds
// while the kubelet keeps the container's whole log (it rotates a log
// beyond its containerLogMaxSize, 10 MiB by default, larger than a run's
// stored log can be).
func (e *Executor) Adopt(ctx context.Context, spec *troupe.ExecSpec, skip int64) (troupe.Process, error) {
	if err := e.watch(ctx); err != nil {
		return nil, fmt.Errorf("adopt pod: %w", err)
	}
	e.deleteOtherGenerations(ctx, spec.RunID, spec.Generation)
	name := PodName(spec.RunID, spec.Generation)
	pod, err := e.client.CoreV1().Pods(e.ns).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("adopt pod: %w", err)
	}
	if pod.DeletionTimestamp != nil || pod.Labels[LabelManagedBy] != managedBy {
		return nil, nil
	}
	p := newProcess(e, name, spec, skip)
	e.register(p)
	p.observe(pod, false)
	return p, nil
}

// deleteOtherGenerations deletes the pods of the run's other generations.
func (e *Executor) deleteOtherGenerations(ctx context.Context, runID string, gen int) {
	sel := labels.SelectorFromSet(labels.Set{LabelManagedBy: managedBy, LabelRun: runID})
	pods, err := e.lister.List(sel)
	if err != nil {
		return
	}
	for _, pod := range pods {
		if pod.Labels[LabelGeneration] == strconv.Itoa(gen) || pod.DeletionTimestamp != nil {
			continue
		}
		if err := e.deletePod(ctx, pod.Name, killGrace); err != nil {
			e.log.Warn("kubernetes executor: delete pod of an earlier generation", "pod", pod.Name, "err", err)
		}
	}
}

func (e *Executor) deletePod(ctx context.Context, name string, grace int64) error {
	bg := metav1.DeletePropagationBackground
	err := e.client.CoreV1().Pods(e.ns).Delete(ctx, name, metav1.DeleteOptions{GracePeriodSeconds: &grace, PropagationPolicy: &bg})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// PodName is the name of the pod of a run's generation: a DNS label made
// of the run id in lower case, the generation, and a hash of the run id
// (run ids differing only in case get different names).
func PodName(runID string, gen int) string {
	return fmt.Sprintf("troupe-%s-%d-%s", nameOf(runID), gen, hashOf(runID))
}

// nameOf is id as a part of a DNS label: lower case letters and digits,
// '-' for anything else, at most 32 characters, no '-' at either end.
func nameOf(id string) string {
	id = strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			return r
		case r >= 'A' && r <= 'Z':
			return r + 'a' - 'A'
		}
		return '-'
	}, id)
	if len(id) > 32 {
		id = id[:32]
	}
	return strings.Trim(id, "-")
}

// hashOf is a short hash of id that tells apart ids nameOf makes equal
// (differing only in case or cut off).
func hashOf(id string) string {
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:3])
}
