// Package kubernetes implements [troupe.RemoteExecutor] with Kubernetes
// Pods, through client-go.
//
// Each run process is one Pod in the executor's namespace, named after its
// run and generation (so that a generation can never have two pods) and
// labelled with troupe's labels (LabelRun, LabelGeneration, LabelActor,
// LabelBuild; LabelManagedBy on all) and annotations (the run id as is, the
// server instance that created it, the image the Dockerfile asked for):
//
//   - an init container (Options.InitImage, a busybox image) downloads the
//     build's archive from troupe's API with the run's own token
//     (GET /v2/actor-builds/{id}/artifact, APIFY_TOKEN of the spec), checks
//     its sha256 against ExecSpec.Artifact and unpacks it into an emptyDir
//     mounted at WorkDir;
//   - the main container runs ExecSpec.Command in WorkDir with exactly
//     ExecSpec.Env (through `env -i`, so that neither the image's ENV nor
//     the variables the kubelet adds reach the program; the image needs
//     env(1)), in the image of ExecSpec.Image after Options.ImageMap;
//   - memory requests and limits are ExecSpec.MemoryMbytes, CPU one core per
//     4,096 MB as on the Apify platform; activeDeadlineSeconds backs
//     ExecSpec.Deadline; the security context is that of a limited actor
//     (uid 1000, non-root, read-only root file system with emptyDirs for
//     WorkDir and /tmp, no privilege escalation, every capability dropped,
//     no service account token); restartPolicy is Never, as the controller
//     alone decides restarts (a new generation, a new pod).
//
// The pods' status comes from one informer (a watch filtered by
// LabelManagedBy), never from polling. The main container's log is
// streamed with timestamps into ExecSpec.Output as lines arrive; when the
// stream breaks while the container runs, it resumes after the last line
// delivered. How a process ended comes from the container's termination
// (exit code; 128+N as killed by signal N; OOMKilled as OutOfMemory); a pod
// deleted or evicted by anyone but troupe ends as Lost; an image that
// cannot be pulled or an archive that cannot be fetched ends with Failure.
// Kill deletes the pod with a one-second grace period. Once a process has
// ended and its log is drained, its pod is deleted.
//
// Processes have no pid on the server (PID is 0) and KillOrphan does
// nothing: a restarted server, or another replica, finds a run's pod by its
// labels with Adopt.
package kubernetes
