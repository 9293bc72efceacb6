// Drives a real troupe server with the unmodified official apify-cli (npm
// apify-cli): login, push of a local actor folder, call, runs, builds,
// datasets, key-value stores, actors info and task run. The CLI keeps its
// login in a throwaway HOME, never uses the OS keyring, sends no telemetry,
// skips its version check, and a preloaded guard refuses (and records) any
// connection it tries outside loopback.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

import { TOKEN, newClient, startTroupe } from './harness.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const APIFY = path.join(here, 'node_modules', 'apify-cli', 'dist', 'apify.js');

// Loaded into every CLI process: a connection to anything but loopback
// throws and is written to GUARD_LOG.
const GUARD = `
import net from 'node:net';
import { appendFileSync } from 'node:fs';
const connect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function (...args) {
    const o = typeof args[0] === 'object' && args[0] !== null ? args[0] : { port: args[0], host: args[1] };
    const host = o.host ?? 'localhost';
    if (!o.path && !['127.0.0.1', 'localhost', '::1'].includes(host)) {
        appendFileSync(process.env.GUARD_LOG, host + ':' + o.port + '\\n');
        throw new Error('troupe compat: no connection outside loopback (' + host + ')');
    }
    return connect.apply(this, args);
};
`;

describe('apify-cli against troupe', () => {
    let server;
    let client;
    let home;
    let env;
    let project;

    /** Runs the CLI and resolves with its output; rejects on a non-zero exit. */
    function apify(args, { cwd = home, timeoutMs = 120_000 } = {}) {
        return new Promise((resolve, reject) => {
            // stdin at its end at once: the CLI takes --yes instead of asking.
            const child = execFile(process.execPath, [APIFY, ...args], { cwd, env, timeout: timeoutMs, maxBuffer: 16 << 20 },
                (err, stdout, stderr) => {
                    if (err) {
                        reject(new Error(`apify ${args.join(' ')} failed (${err.code ?? err.signal}):\n${stdout}\n${stderr}`));
                        return;
                    }
                    resolve({ stdout, stderr, out: stdout + stderr });
                });
            child.stdin.end();
        });
    }

    before(async () => {
        server = await startTroupe({ examples: false });
        client = newClient(server.url);
        home = await mkdtemp(path.join(tmpdir(), 'troupe-apify-cli-'));
        const guard = path.join(home, 'guard.mjs');
        await writeFile(guard, GUARD);
        env = {
            PATH: process.env.PATH,
            HOME: home,
            XDG_CONFIG_HOME: path.join(home, '.config'),
            APIFY_CLIENT_BASE_URL: server.url,
            APIFY_DISABLE_KEYRING: '1',
            APIFY_CLI_DISABLE_TELEMETRY: '1',
            APIFY_CLI_SKIP_UPDATE_CHECK: '1',
            NO_COLOR: '1',
            GUARD_LOG: path.join(home, 'outside.log'),
            NODE_OPTIONS: `--import ${guard}`,
        };
        await writeFile(env.GUARD_LOG, '');
        // A local actor folder, as `apify create` would leave it (without
        // fetching a template): it prints its input and exits.
        project = path.join(home, 'cli-hello');
        await mkdir(path.join(project, '.actor'), { recursive: true });
        await writeFile(path.join(project, '.actor', 'actor.json'), JSON.stringify({
            actorSpecification: 1, name: 'cli-hello', version: '0.1', title: 'Hello from apify-cli',
        }));
        await writeFile(path.join(project, 'Dockerfile'), 'FROM node:20-alpine\nCOPY . ./\nCMD ["node", "main.js"]\n');
        await writeFile(path.join(project, 'main.js'), "console.log('hello from the cli actor');\n");
        await writeFile(path.join(project, 'package.json'), JSON.stringify({ name: 'cli-hello', version: '0.0.1', private: true }));
    }, { timeout: 60_000 });

    after(async () => {
        if (server) await server.stop();
        if (home) await rm(home, { recursive: true, force: true });
    }, { timeout: 30_000 });

    it('logs in, pushes, calls and inspects runs, builds, storages and tasks', { timeout: 300_000 }, async () => {
        const login = await apify(['login', '--token', TOKEN]);
        assert.match(login.out, /local/, login.out);
        const auth = JSON.parse(await readFile(path.join(home, '.apify', 'auth.json'), 'utf8'));
        assert.equal(auth.username, 'local');

        // push of an actor that does not exist yet reads Apify's template
        // manifest from GitHub to create it: the actor is made first (so
        // it is newer than the folder, hence --force).
        await client.actors().create({ name: 'cli-hello' });
        const push = await apify(['push', '--force'], { cwd: project, timeoutMs: 180_000 });
        const actor = await client.actor('local/cli-hello').get();
        assert.ok(actor?.taggedBuilds?.latest, `no latest build after push:\n${push.out}`);
        const buildId = actor.taggedBuilds.latest.buildId;

        const call = await apify(['call', 'local/cli-hello', '--input', '{"hi":1}'], { timeoutMs: 120_000 });
        assert.match(call.out, /hello from the cli actor/, call.out);
        const { items: [run] } = await client.actor(actor.id).runs().list({ desc: true, limit: 1 });
        assert.equal(run.status, 'SUCCEEDED');

        assert.match((await apify(['runs', 'ls', 'local/cli-hello'])).out, new RegExp(run.id));
        assert.match((await apify(['runs', 'info', run.id])).out, /SUCCEEDED|Succeeded/i);
        assert.match((await apify(['runs', 'log', run.id])).out, /hello from the cli actor/);

        assert.match((await apify(['builds', 'ls', 'local/cli-hello'])).out, /0\.1\.1/);
        assert.match((await apify(['builds', 'info', buildId])).out, /0\.1\.1/);
        // A second build takes the latest tag: the first one can go.
        const second = await client.actor(actor.id).build('0.1', { waitForFinish: 120 });
        assert.equal(second.status, 'SUCCEEDED');
        await apify(['builds', 'rm', buildId, '--yes']);
        assert.equal(await client.build(buildId).get(), undefined);

        const info = await apify(['actors', 'info', 'local/cli-hello']);
        assert.match(info.out, /cli-hello/);
        // troupe has no store of public actors: the search finds nothing.
        await apify(['actors', 'search', 'scraper']);

        // Storages: a named dataset with items, a named key-value store.
        const ds = await client.datasets().getOrCreate('cli-items');
        await client.dataset(ds.id).pushItems([{ n: 1 }, { n: 2 }]);
        const kv = await client.keyValueStores().getOrCreate('cli-store');
        await client.keyValueStore(kv.id).setRecord({ key: 'GREETING', value: { hello: 'cli' } });
        assert.match((await apify(['datasets', 'ls'])).out, new RegExp(ds.id));
        assert.match((await apify(['datasets', 'info', ds.id])).out, /cli-items/);
        const items = JSON.parse((await apify(['datasets', 'get-items', ds.id, '--format', 'json'])).stdout);
        assert.deepEqual(items, [{ n: 1 }, { n: 2 }]);
        assert.match((await apify(['key-value-stores', 'ls'])).out, new RegExp(kv.id));
        assert.match((await apify(['key-value-stores', 'info', kv.id])).out, /cli-store/);
        const value = await apify(['key-value-stores', 'get-value', kv.id, 'GREETING']);
        assert.deepEqual(JSON.parse(value.stdout), { hello: 'cli' });

        // A task of the actor, run by the CLI.
        const task = await client.tasks().create({ actId: actor.id, name: 'cli-task', input: { from: 'task' } });
        // The CLI takes the task's name (it asks for local~cli-task).
        const taskRun = await apify(['task', 'run', task.name], { timeoutMs: 120_000 });
        assert.match(taskRun.out, /hello from the cli actor/, taskRun.out);

        // The CLI reached nothing outside troupe.
        assert.equal(await readFile(env.GUARD_LOG, 'utf8'), '');
    });
});
