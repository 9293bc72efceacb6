package troupe

import (
	"encoding/json"
	"time"
)

// Source types of an actor version.
const (
	SourceFiles  = "SOURCE_FILES"
	SourceFolder = "SOURCE_FOLDER" // troupe's own: a folder on the server's disk
)

// Actor is a program troupe can run, with its versions and default options.
type Actor struct {
	ID                string                  `json:"id"`
	UserID            string                  `json:"userId"`
	Name              string                  `json:"name"`
	Username          string                  `json:"username"`
	Title             string                  `json:"title,omitempty"`
	Description       string                  `json:"description,omitempty"`
	IsPublic          bool                    `json:"isPublic"`
	CreatedAt         time.Time               `json:"createdAt"`
	ModifiedAt        time.Time               `json:"modifiedAt"`
	Stats             ActorStats              `json:"stats"`
	Versions          []Version               `json:"versions"`
	DefaultRunOptions DefaultRunOptions       `json:"defaultRunOptions"`
	TaggedBuilds      map[string]*TaggedBuild `json:"taggedBuilds"`
	ExampleRunInput   *ExampleRunInput        `json:"exampleRunInput,omitempty"`
	// ActorPermissionLevel is what the tokens of the actor's runs reach
	// (PermissionsLimited or PermissionsFull; empty means limited).
	ActorPermissionLevel string `json:"actorPermissionLevel,omitempty"`
	// RestartsForbidden, when set, makes a run whose process was lost end
	// FAILED instead of being restarted.
	RestartsForbidden bool `json:"restartsForbidden,omitempty"`
	// Image, when set, is the OCI image the actor's new builds record
	// instead of their Dockerfile's FROM: on the Kubernetes executor their
	// install steps and runs use it (after --image-map). Builds made before
	// it was set keep their image.
	Image string `json:"image,omitempty"`
}

// ActorStats are counters of an actor.
type ActorStats struct {
	TotalRuns        int        `json:"totalRuns"`
	TotalBuilds      int        `json:"totalBuilds"`
	LastRunStartedAt *time.Time `json:"lastRunStartedAt,omitempty"`
}

// DefaultRunOptions apply to runs that do not say otherwise.
type DefaultRunOptions struct {
	Build          string `json:"build"`
	TimeoutSecs    int    `json:"timeoutSecs"`
	MemoryMbytes   int    `json:"memoryMbytes"`
	RestartOnError bool   `json:"restartOnError"`
	MaxItems       *int   `json:"maxItems,omitempty"`
	// ForcePermissionLevel, when set, is the level of runs started without
	// forcePermissionLevel instead of the actor's own.
	ForcePermissionLevel *string `json:"forcePermissionLevel,omitempty"`
}

// TaggedBuild is the build a tag (e.g. "latest") points at.
type TaggedBuild struct {
	BuildID     string     `json:"buildId"`
	BuildNumber string     `json:"buildNumber"`
	FinishedAt  *time.Time `json:"finishedAt"`
}

// ExampleRunInput is shown to users as a sample input.
type ExampleRunInput struct {
	Body        string `json:"body"`
	ContentType string `json:"contentType"`
}

// Version is a version of an actor's source ("MAJOR.MINOR").
type Version struct {
	VersionNumber string       `json:"versionNumber"`
	SourceType    string       `json:"sourceType"`
	EnvVars       []EnvVar     `json:"envVars"`
	BuildTag      string       `json:"buildTag"`
	SourceFiles   []SourceFile `json:"sourceFiles,omitempty"`
	// SourceDir is the folder of a SOURCE_FOLDER version.
	SourceDir string `json:"sourceDir,omitempty"`
}

// EnvVar is an environment variable a version gives its runs.
type EnvVar struct {
	Name     string `json:"name"`
	Value    string `json:"value"`
	IsSecret bool   `json:"isSecret,omitempty"`
}

// SourceFile is one file (or folder) of a SOURCE_FILES version. Format is
// TEXT or BASE64.
type SourceFile struct {
	Name    string `json:"name"`
	Format  string `json:"format,omitempty"`
	Content string `json:"content,omitempty"`
	Folder  bool   `json:"folder,omitempty"`
}

// Build is an immutable snapshot of an actor version that runs execute.
type Build struct {
	ID          string          `json:"id"`
	ActID       string          `json:"actId"`
	UserID      string          `json:"userId"`
	StartedAt   time.Time       `json:"startedAt"`
	FinishedAt  *time.Time      `json:"finishedAt"`
	Status      Status          `json:"status"`
	Meta        RunMeta         `json:"meta"`
	Stats       BuildStats      `json:"stats"`
	Options     BuildOptions    `json:"options"`
	Usage       map[string]any  `json:"usage"`
	BuildNumber string          `json:"buildNumber"`
	InputSchema json.RawMessage `json:"inputSchema,omitempty"`
	// ActorVersion is the version ("0.0") the build was made from.
	ActorVersion string `json:"actVersion"`
	// Tag is the tag (e.g. "latest") the build gets when it succeeds.
	Tag string `json:"buildTag,omitempty"`
	// Command is the start command (argv) taken from the Dockerfile's CMD.
	Command []string `json:"-"`
	// Env holds the version's environment variables.
	Env []EnvVar `json:"-"`
	// Dir is the build's folder on the server's disk.
	Dir string `json:"-"`
	// Image names an OCI image (Kubernetes executor).
	Image string `json:"-"`
	// Instance names the server that runs (or ran) the build.
	Instance string `json:"-"`
	// Artifact is the digest (sha256, hex) under which the store keeps the
	// archive of a succeeded build's folder (troupe.ArtifactStore); empty
	// for a build made before troupe kept archives.
	Artifact string `json:"-"`
	// InstallSource and InstallResult are the digests of the archives a
	// build's install pod downloads (the build's files before the install)
	// and uploaded (the folder after it); see Installer.
	InstallSource string `json:"-"`
	InstallResult string `json:"-"`
	// StatusMessage says why a build did not succeed (troupe's addition).
	StatusMessage string `json:"statusMessage,omitempty"`
}

// BuildStats are a build's figures.
type BuildStats struct {
	DurationMillis int64   `json:"durationMillis"`
	RunTimeSecs    float64 `json:"runTimeSecs"`
	ComputeUnits   float64 `json:"computeUnits"`
}

// BuildOptions are the options a build was made with.
type BuildOptions struct {
	UseCache     bool `json:"useCache"`
	BetaPackages bool `json:"betaPackages"`
	MemoryMbytes int  `json:"memoryMbytes"`
	DiskMbytes   int  `json:"diskMbytes"`
	// TimeoutSecs is how long the build may take before it ends TIMED-OUT
	// (troupe's addition; 0 in a stored build: the server's default).
	TimeoutSecs int `json:"timeoutSecs,omitempty"`
}
