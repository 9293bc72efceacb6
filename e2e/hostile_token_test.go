package e2e_test

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/troupehq/troupe/client"
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

// TestHostileForgedToken: a run tries to forge the token of another run:
// with its own signature under the other run's id, and with the signing
// secret it looks for in the database next to its working folder (where
// earlier versions kept it). Every forgery is refused and the other run is
// untouched.
func TestHostileForgedToken(t *testing.T) {
	t.Parallel()
	s := shared
	s.pushNode(t, "token-forger", `
const crypto = require('node:crypto');
const fs = require('node:fs');
const { victim } = await input();
const forged = [];
const own = env.APIFY_TOKEN.split('_');
forged.push({ what: 'own signature, other id', token: ['run', victim, ...own.slice(2)].join('_') });
let secretFound = false;
for (const file of ['../../troupe.db', '../../troupe.db-wal']) {
    let data = '';
    try { data = fs.readFileSync(file).toString('latin1'); } catch { continue; }
    for (const m of data.matchAll(/run_token_secret([0-9a-f]{64})/g)) {
        secretFound = true;
        const mac = crypto.createHmac('sha256', m[1]).update(victim).digest('base64url');
        forged.push({ what: 'secret from ' + file, token: 'run_' + victim + '_' + mac });
    }
}
for (const key of ['', 'troupe run tokens']) {
    const mac = crypto.createHmac('sha256', key).update(victim + '\0' + '0').digest('base64url');
    forged.push({ what: 'guessed key ' + JSON.stringify(key), token: 'run_' + victim + '_' + mac });
}
const attempts = [];
for (const f of forged) {
    attempts.push({ what: f.what + ': get', ...(await answer(await api('/actor-runs/' + victim, {}, f.token))) });
    attempts.push({ what: f.what + ': abort', ...(await answer(await api('/actor-runs/' + victim + '/abort', { method: 'POST' }, f.token))) });
    attempts.push({ what: f.what + ': status', ...(await answer(await api('/actor-runs/' + victim, { method: 'PUT', body: JSON.stringify({ statusMessage: 'hijacked' }) }, f.token))) });
}
await output({ attempts, secretFound });
`)
	victim := s.start(t, "sleeper", `{"secs":600}`, nil)
	s.waitLog(t, victim.ID, "tick 1")
	input, _ := json.Marshal(map[string]string{"victim": victim.ID})
	forger := s.finish(t, s.start(t, "token-forger", string(input), nil).ID)
	wantStatus(t, forger, client.StatusSucceeded)
	wantRefused(t, s.attempts(t, forger.ID), 401, "invalid-token")
	if found, _ := s.record(t, forger.ID, "OUTPUT")["secretFound"].(bool); found {
		t.Error("the database still holds a run token secret")
	}
	wantUntouched(t, s, victim.ID)
}

// wantUntouched checks that a sleeper run is still RUNNING with no status
// message of an attacker, and aborts it.
func wantUntouched(t *testing.T, s *server, runID string) {
	t.Helper()
	ctx := testCtx(t)
	got, err := s.c.Run(runID).Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wantStatus(t, got, client.StatusRunning)
	if message(got) == "hijacked" || got.Stats.RebootCount != 0 || got.Stats.Metamorph != 0 {
		t.Errorf("the other run was steered: %q, reboots %d, metamorphs %d", message(got), got.Stats.RebootCount, got.Stats.Metamorph)
	}
	if _, err := s.c.Run(runID).Abort(ctx, false); err != nil {
		t.Fatal(err)
	}
}

// TestHostileLimitedToken: a run with limited permissions (the default)
// tries to steer another run, read and write its storages, create an actor,
// raise its own actor's level and start a full-permission run. All are
// refused with 403 insufficient-permissions, while its legitimate work
// succeeds: it calls another actor and reads the result, keeps a named
// storage and writes its own OUTPUT.
func TestHostileLimitedToken(t *testing.T) {
	t.Parallel()
	s := shared
	s.pushNode(t, "token-intruder", `
const { victim } = await input();
const attempts = [];
const tryIt = async (what, path, init) => attempts.push({ what, ...(await answer(await api(path, init))) });
const v = '/actor-runs/' + victim;
await tryIt('get the other run', v);
await tryIt('abort it', v + '/abort', { method: 'POST' });
await tryIt('abort it gracefully', v + '/abort?gracefully=true', { method: 'POST' });
await tryIt('set its status message', v, { method: 'PUT', body: JSON.stringify({ statusMessage: 'hijacked' }) });
await tryIt('metamorph it', v + '/metamorph?targetActorId=~echo', { method: 'POST', body: '{}' });
await tryIt('reboot it', v + '/reboot', { method: 'POST' });
await tryIt('delete it', v, { method: 'DELETE' });
await tryIt('read its log', v + '/log');
await tryIt('read its input', v + '/key-value-store/records/INPUT');
await tryIt('write its dataset', v + '/dataset/items', { method: 'POST', body: '{"planted":true}' });
await tryIt('list runs', '/actor-runs');
await tryIt('list datasets', '/datasets');
await tryIt('create an actor', '/acts', { method: 'POST', body: JSON.stringify({ name: 'planted' }) });
await tryIt('raise its own level', '/acts/' + env.ACTOR_ID, { method: 'PUT', body: JSON.stringify({ actorPermissionLevel: 'FULL_PERMISSIONS' }) });
await tryIt('start a full run', '/acts/~echo/runs?forcePermissionLevel=FULL_PERMISSIONS', { method: 'POST', body: '{}' });
await tryIt('read the actor versions', '/acts/~echo/versions');

// Its legitimate work.
const work = {};
const call = await api('/acts/~echo/runs?waitForFinish=60', { method: 'POST', body: JSON.stringify({ message: 'from the intruder' }) });
const child = (await call.json()).data;
work.childStatus = child.status;
const out = await api('/actor-runs/' + child.id + '/key-value-store/records/OUTPUT');
work.childOutput = out.ok ? await out.json() : { status: out.status };
const made = await api('/key-value-stores?name=intruder-cache', { method: 'POST' });
const store = (await made.json()).data;
const put = await api('/key-value-stores/' + store.id + '/records/seen', { method: 'PUT', body: '{"ok":true}' });
work.cacheWritten = put.status;
await output({ attempts, work, permissionLevel: env.ACTOR_PERMISSION_LEVEL });
`)
	victim := s.start(t, "sleeper", `{"secs":600}`, nil)
	s.waitLog(t, victim.ID, "tick 1")
	input, _ := json.Marshal(map[string]string{"victim": victim.ID})
	intruder := s.finish(t, s.start(t, "token-intruder", string(input), nil).ID)
	wantStatus(t, intruder, client.StatusSucceeded)
	wantRefused(t, s.attempts(t, intruder.ID), 403, "insufficient-permissions")
	wantUntouched(t, s, victim.ID)

	out := s.record(t, intruder.ID, "OUTPUT")
	if out["permissionLevel"] != "LIMITED_PERMISSIONS" {
		t.Errorf("ACTOR_PERMISSION_LEVEL = %v", out["permissionLevel"])
	}
	work, _ := out["work"].(map[string]any)
	childOut, _ := work["childOutput"].(map[string]any)
	childIn, _ := childOut["input"].(map[string]any)
	if work["childStatus"] != "SUCCEEDED" || childIn["message"] != "from the intruder" || work["cacheWritten"] != float64(201) {
		t.Errorf("the limited run's own work failed: %v", work)
	}
	ctx := testCtx(t)
	if a, err := s.c.Actor("~planted").Get(ctx); err != nil || a != nil {
		t.Errorf("actor planted by the limited run: %v, %v", a, err)
	}
	if rec, err := s.c.Run(victim.ID).Dataset().ListItems(ctx, nil); err == nil && len(rec.Items) > 0 {
		t.Errorf("the limited run wrote into the other run's dataset: %s", rec.Items)
	}
}

// TestHostileTokenAfterRotation: a server restarted with another admin
// token refuses the tokens its runs had; the runs it restarts get new ones.
func TestHostileTokenAfterRotation(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s, err := launch(dir, "--examples=false")
	if err != nil {
		t.Fatal(err)
	}
	s.pushNode(t, "token-holder", `
const prev = await api(kvs + 'OUTPUT');
const starts = (prev.ok ? (await prev.json()).starts : 0) + 1;
await output({ token: env.APIFY_TOKEN, starts });
console.log('holder start ' + starts);
setInterval(() => {}, 1000);
`)
	run := s.start(t, "token-holder", "", nil)
	s.waitLog(t, run.ID, "holder start 1")
	old, _ := s.record(t, run.ID, "OUTPUT")["token"].(string)
	s.stop()

	s2, err := launchAs("e2e-token-rotated", dir, "--examples=false")
	if err != nil {
		t.Fatal(err)
	}
	defer s2.stop()
	waitCount(t, s2, run.ID, "holder start 2", 1)
	fresh, _ := s2.record(t, run.ID, "OUTPUT")["token"].(string)
	if old == "" || fresh == "" || fresh == old {
		t.Fatalf("tokens before and after the restart: %q, %q", old, fresh)
	}
	ctx := testCtx(t)
	get := func(tok string) int {
		req, _ := http.NewRequestWithContext(ctx, "GET", s2.URL+"/v2/actor-runs/"+run.ID, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if st := get(old); st != 401 {
		t.Errorf("the token from before the rotation answered %d, want 401", st)
	}
	if st := get(fresh); st != 200 {
		t.Errorf("the restarted run's new token answered %d, want 200", st)
	}
	if _, err := s2.c.Run(run.ID).Abort(ctx, false); err != nil {
		t.Fatal(err)
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
