// Package examples holds small actors that troupe serve installs at first
// start, ready to run. The end-to-end tests use them too. None needs npm
// packages; each talks to the API with fetch.
package examples

import "embed"

// FS holds one folder per actor, each an Apify-style project.
//
//go:embed all:echo all:sleeper all:failer all:graceful all:morph-target
var FS embed.FS

// Names lists the example actors.
var Names = []string{"echo", "sleeper", "failer", "graceful", "morph-target"}
