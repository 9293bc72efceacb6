package e2e_test

import (
	"encoding/json"
	"github.com/troupehq/troupe/client"
	"os"
	"path/filepath"
	"testing"
)

// The hostile actors below are plain Node programs (no npm packages) that
// talk to the API with fetch and the environment every run gets. Each
// records what it tried, and what the server answered, in its OUTPUT
// record, written with its own token: that write is the legitimate work
// that must still succeed.

// apiJS is the prelude of every hostile actor: api() calls the API with a
// token (the run's own by default); answer() reduces a response to its
// status and error type; output() stores the run's OUTPUT record.
const apiJS = `
const env = process.env;
const api = (path, init = {}, token = env.APIFY_TOKEN) => fetch(env.APIFY_API_BASE_URL + '/v2' + path, {
    ...init, headers: { authorization: 'Bearer ' + token, 'content-type': 'application/json', ...init.headers },
});
const answer = async (res) => {
    const text = await res.text();
    let type = '';
    try { type = JSON.parse(text).error.type || ''; } catch {}
    return { status: res.status, type };
};
const kvs = '/key-value-stores/' + env.ACTOR_DEFAULT_KEY_VALUE_STORE_ID + '/records/';
const input = async () => {
    const res = await api(kvs + env.ACTOR_INPUT_KEY);
    return res.ok ? res.json() : {};
};
const output = async (v) => {
    const res = await api(kvs + 'OUTPUT', { method: 'PUT', body: JSON.stringify(v) });
    if (!res.ok) { console.error('OUTPUT not stored:', res.status, await res.text()); process.exit(2); }
};
`

// pushNode pushes a Node actor whose main.js is apiJS followed by code.
func (s *server) pushNode(t *testing.T, name, code string) {
	t.Helper()
	s.pushProject(t, map[string]string{
		".actor/actor.json": `{"actorSpecification":1,"name":"` + name + `","version":"0.1"}`,
		"Dockerfile":        "FROM node:20\nCOPY . ./\nCMD [\"node\", \"main.js\"]\n",
		"main.js":           apiJS + "(async () => {\n" + code + "\n})();\n",
	})
}

// attempt is one request a hostile actor made and the server's answer.
type attempt struct {
	What   string `json:"what"`
	Status int    `json:"status"`
	Type   string `json:"type"`
}

// attempts reads the attempts a hostile run recorded in its OUTPUT.
func (s *server) attempts(t *testing.T, runID string) []attempt {
	t.Helper()
	out := s.record(t, runID, "OUTPUT")
	if out == nil {
		t.Fatalf("run %s stored no OUTPUT:\n%s", runID, s.log(t, runID))
	}
	data, _ := json.Marshal(out["attempts"])
	var as []attempt
	if err := json.Unmarshal(data, &as); err != nil || len(as) == 0 {
		t.Fatalf("OUTPUT of %s has no attempts: %v", runID, out)
	}
	return as
}

// wantRefused checks that every attempt was answered with status and type.
func wantRefused(t *testing.T, as []attempt, status int, typ string) {
	t.Helper()
	for _, a := range as {
		if a.Status != status || a.Type != typ {
			t.Errorf("%s: answered %d %s, want %d %s", a.What, a.Status, a.Type, status, typ)
		}
	}
}

// TestHostileTokenReuse: a run keeps its token (here in its OUTPUT, where a
// later run of the same author can find it); once the run has finished, a
// run that replays the token is refused, while both runs' own work succeeds.
func TestHostileTokenReuse(t *testing.T) {
	t.Parallel()
	s := shared
	s.pushNode(t, "token-keeper", `await output({ token: env.APIFY_TOKEN, runId: env.ACTOR_RUN_ID });`)
	s.pushNode(t, "token-replay", `
const { token, runId } = await input();
const attempts = [];
const tryIt = async (what, path, init) => attempts.push({ what, ...(await answer(await api(path, init, token))) });
await tryIt('get the ended run', '/actor-runs/' + runId);
await tryIt('read its storage', '/actor-runs/' + runId + '/key-value-store/records/OUTPUT');
await tryIt('set its status message', '/actor-runs/' + runId, { method: 'PUT', body: JSON.stringify({ statusMessage: 'hijacked' }) });
await tryIt('resurrect it', '/actor-runs/' + runId + '/resurrect', { method: 'POST' });
await tryIt('create an actor', '/acts', { method: 'POST', body: JSON.stringify({ name: 'planted' }) });
await output({ attempts });
`)
	keeper := s.finish(t, s.start(t, "token-keeper", "", nil).ID)
	wantStatus(t, keeper, client.StatusSucceeded)
	kept := s.record(t, keeper.ID, "OUTPUT")
	input, _ := json.Marshal(map[string]any{"token": kept["token"], "runId": keeper.ID})
	replay := s.finish(t, s.start(t, "token-replay", string(input), nil).ID)
	wantStatus(t, replay, client.StatusSucceeded)
	wantRefused(t, s.attempts(t, replay.ID), 401, "invalid-token")
	if got := s.finish(t, keeper.ID); message(got) == "hijacked" || got.Status != client.StatusSucceeded {
		t.Errorf("the ended run was changed: %s %q", got.Status, message(got))
	}
}

// TestDataFileModes: the data folder is 0700 and the database files 0600,
// so no other user of the machine can read them.
func TestDataFileModes(t *testing.T) {
	t.Parallel()
	s := shared
	wantMode(t, s.DataDir, 0o700)
	for _, name := range []string{"troupe.db", "troupe.db-wal", "troupe.db-shm"} {
		wantMode(t, filepath.Join(s.DataDir, name), 0o600)
	}
}

func wantMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != want {
		t.Errorf("%s has mode %o, want %o", filepath.Base(path), got, want)
	}
}
