package actorproject_test

import (
	"slices"
	"testing"

	"github.com/troupehq/troupe/actorproject"
)

func TestParseDockerfile(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, src string
		want      []string
	}{
		{"ExecForm", "FROM node:20\nCOPY . ./\nCMD [\"node\", \"main.js\"]\n", []string{"node", "main.js"}},
		{"ShellForm", "FROM x\nCMD npm start --silent", []string{"/bin/sh", "-c", "npm start --silent"}},
		{"LastCMDWins", "CMD [\"a\"]\nCMD [\"b\"]", []string{"b"}},
		{"Continuation", "CMD node \\\n  main.js \\\n  --flag", []string{"/bin/sh", "-c", "node  main.js  --flag"}},
		{"Entrypoint", "ENTRYPOINT [\"python3\", \"-m\"]\nCMD [\"src\"]", []string{"python3", "-m", "src"}},
		{"EntrypointResetsCmd", "CMD [\"x\"]\nENTRYPOINT [\"node\", \"a.js\"]", []string{"node", "a.js"}},
		{"NewStageResets", "FROM a AS build\nCMD [\"x\"]\nFROM b\nCOPY --from=build . .", nil},
		{"Comments", "# CMD [\"no\"]\nCMD [\"yes\"] ", []string{"yes"}},
		{"None", "FROM node\nRUN npm i", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := actorproject.ParseDockerfile(tc.src).Command(); !slices.Equal(got, tc.want) {
				t.Errorf("command %q, want %q", got, tc.want)
			}
		})
	}
}

func TestParseDockerfileEnv(t *testing.T) {
	t.Parallel()
	d := actorproject.ParseDockerfile("ENV A=1 B=\"two words\"\nENV LEGACY some value\n" +
		`ENV Q="say \"hi\" \\ \$HOME \n" R=a\ b S='\x'` + "\n")
	want := [][2]string{{"A", "1"}, {"B", "two words"}, {"LEGACY", "some value"},
		{"Q", `say "hi" \ $HOME \n`}, {"R", "a b"}, {"S", `\x`}}
	if !slices.Equal(d.Env, want) {
		t.Errorf("env %q, want %q", d.Env, want)
	}
}

func TestParseDockerfileFrom(t *testing.T) {
	t.Parallel()
	for src, want := range map[string]string{
		"FROM node:20\nCMD [\"node\"]":                                            "node:20",
		"FROM --platform=linux/amd64 apify/actor-node:20 AS base\nCMD x":          "apify/actor-node:20",
		"FROM golang:1 AS build\nRUN make\nFROM debian:12\nCOPY --from=build . .": "debian:12",
		"FROM node:20 AS deps\nRUN npm i\nFROM deps\nCMD x":                       "node:20",
		"ARG NODE=22\nFROM apify/actor-node:${NODE}\nARG NODE=1\nCMD x":           "apify/actor-node:22",
		"CMD [\"x\"]": "",
	} {
		if got := actorproject.ParseDockerfile(src).From; got != want {
			t.Errorf("From of %q = %q, want %q", src, got, want)
		}
	}
}
