package codec

import (
	"encoding/json"
	"fmt"

	"github.com/troupehq/troupe"
)

// buildInternal holds the build fields that are never serialised to
// clients, kept in their own column.
type buildInternal struct {
	Command []string        `json:"command,omitempty"`
	Env     []troupe.EnvVar `json:"env,omitempty"`
	Dir     string          `json:"dir,omitempty"`
	Image   string          `json:"image,omitempty"`
	// Instance names the server that runs the build.
	Instance string `json:"instance,omitempty"`
	// Artifact is the digest of the build's archive in the store.
	Artifact string `json:"artifact,omitempty"`
	// InstallSource and InstallResult are the archives of an install pod.
	InstallSource string `json:"installSource,omitempty"`
	InstallResult string `json:"installResult,omitempty"`
}

// DecodeBuild returns the build kept as data and internal.
func DecodeBuild(data, internal []byte) (*troupe.Build, error) {
	b := new(troupe.Build)
	if err := json.Unmarshal(data, b); err != nil {
		return nil, fmt.Errorf("decode build: %w", err)
	}
	var in buildInternal
	if err := json.Unmarshal(internal, &in); err != nil {
		return nil, fmt.Errorf("decode build: %w", err)
	}
	b.Command, b.Env, b.Dir, b.Image, b.Instance, b.Artifact = in.Command, in.Env, in.Dir, in.Image, in.Instance, in.Artifact
	b.InstallSource, b.InstallResult = in.InstallSource, in.InstallResult
	return b, nil
}

// EncodeBuild normalises b's times and returns its two columns.
func EncodeBuild(b *troupe.Build) (data, internal []byte, err error) {
	b.StartedAt = Norm(b.StartedAt)
	b.FinishedAt = NormPtr(b.FinishedAt)
	if data, err = json.Marshal(b); err != nil {
		return nil, nil, fmt.Errorf("encode build: %w", err)
	}
	in := buildInternal{Command: b.Command, Env: b.Env, Dir: b.Dir, Image: b.Image, Instance: b.Instance, Artifact: b.Artifact,
		InstallSource: b.InstallSource, InstallResult: b.InstallResult}
	if internal, err = json.Marshal(in); err != nil {
		return nil, nil, fmt.Errorf("encode build: %w", err)
	}
	return data, internal, nil
}
