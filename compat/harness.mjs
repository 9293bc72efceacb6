// Test harness: starts a real `troupe serve` on a free loopback port with a
// throwaway data folder, waits for its example actors to be built, and
// offers small helpers the tests share. Everything talks to the server
// through the unmodified official apify-client.
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { ApifyApiError, ApifyClient } from 'apify-client';

// apify-client is a CommonJS package and checks `log` options with
// instanceof against the CommonJS build of @apify/log, so the same build
// must be loaded here (an ESM import would give other classes).
const require = createRequire(import.meta.url);
const { Log, Logger, LEVELS } = require('@apify/log');

export const TOKEN = 'compat-token';
export const EXAMPLES = ['echo', 'sleeper', 'failer', 'graceful', 'morph-target'];
export const TERMINAL = ['SUCCEEDED', 'FAILED', 'TIMED-OUT', 'ABORTED'];
export const STATUSES = ['READY', 'RUNNING', 'TIMING-OUT', 'ABORTING', ...TERMINAL];
export const ISO_LINE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z /;

const LISTENING = /^troupe: listening on (http:\/\/127\.0\.0\.1:\d+) \(data in .*\)$/;

/**
 * Starts `$TROUPE_BIN serve` and resolves once it prints its listening
 * line. The returned object has the server's base URL, the tail of its
 * stderr (for failure messages) and stop(), which sends SIGTERM, waits for
 * the process to exit and removes the data folder (unless keepData). With
 * examples: false the server installs no example actors; dataDir reuses a
 * data folder (to start a server again), args and env are added to the
 * server's command line and environment.
 */
export async function startTroupe({ examples = true, dataDir, args = [], env = {} } = {}) {
    const bin = process.env.TROUPE_BIN;
    if (!bin) throw new Error('TROUPE_BIN must name a built troupe binary');
    dataDir ??= await mkdtemp(path.join(tmpdir(), 'troupe-compat-'));
    // The grace period only bounds a graceful abort whose actor does not
    // exit: the graceful example exits within a second, but a starved CPU
    // can slow Node's own exit by seconds, so keep a margin.
    const child = spawn(bin, [
        'serve', '--listen', '127.0.0.1:0', '--data', dataDir,
        '--grace-period', '10s', '--timeout-grace', '1s', '--migration-grace', '2s', '--log-level', 'warn',
        ...(examples ? [] : ['--examples=false']), ...args,
    ], { env: { ...process.env, TROUPE_TOKEN: TOKEN, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });

    const tail = [];
    const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    let url;
    try {
        url = await listeningURL(child, exited, tail);
    } catch (err) {
        // A spawn error may come without an exit event: wait briefly only.
        await Promise.race([exited, sleep(5000)]);
        await rm(dataDir, { recursive: true, force: true });
        throw err;
    }

    return {
        url,
        dataDir,
        stderr: () => tail.join('\n'),
        async stop({ keepData = false } = {}) {
            if (child.exitCode === null && child.signalCode === null) {
                child.kill('SIGTERM');
                const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
                await exited;
                clearTimeout(killer);
            }
            if (!keepData) await rm(dataDir, { recursive: true, force: true });
        },
    };
}

/**
 * Reads the server's stderr until its listening line and resolves with the
 * URL in it. It keeps reading stderr for the server's whole life so that the
 * server never blocks on a full pipe, keeping the last lines in tail.
 */
function listeningURL(child, exited, tail) {
    return new Promise((resolve, reject) => {
        let pending = '';
        let settled = false;
        const timer = setTimeout(() => fail(new Error('troupe did not print its listening line within 30s')), 30_000);
        function fail(err) {
            if (settled) return;
            settled = true;
            clearTimeout(timer);
            child.kill('SIGKILL');
            reject(new Error(`${err.message}\nstderr:\n${tail.join('\n')}`));
        }
        child.once('error', fail);
        exited.then(({ code, signal }) => fail(new Error(`troupe exited early (code ${code}, signal ${signal})`)));
        child.stderr.setEncoding('utf8');
        child.stderr.on('data', (chunk) => {
            pending += chunk;
            const lines = pending.split('\n');
            pending = lines.pop();
            for (const line of lines) {
                tail.push(line);
                if (tail.length > 200) tail.shift();
                const m = LISTENING.exec(line);
                if (m && !settled) {
                    settled = true;
                    clearTimeout(timer);
                    resolve(m[1]);
                }
            }
        });
    });
}

/**
 * Runs `$TROUPE_BIN args…` as a client of the server (TROUPE_URL and
 * TROUPE_TOKEN in its environment) and resolves with its stdout and stderr.
 * Rejects when it exits non-zero, with its stderr in the message.
 */
export function troupeCLI(server, args, { timeoutMs = 300_000 } = {}) {
    return new Promise((resolve, reject) => {
        execFile(process.env.TROUPE_BIN, args, {
            env: { ...process.env, TROUPE_URL: server.url, TROUPE_TOKEN: TOKEN },
            timeout: timeoutMs,
            maxBuffer: 64 << 20,
        }, (err, stdout, stderr) => {
            if (err) {
                reject(new Error(`troupe ${args.join(' ')} failed (${err.code ?? err.signal}):\n${stderr}`));
                return;
            }
            resolve({ stdout, stderr });
        });
    });
}

/** Returns an official client pointed at the server. */
export function newClient(url) {
    return new ApifyClient({ baseUrl: url, token: TOKEN, maxRetries: 2, minDelayBetweenRetriesMillis: 100 });
}

/**
 * Waits until every example actor has a `latest` tagged build. The server
 * builds them at start; there is no event for that on the API, so this
 * polls with short sleeps.
 */
export async function waitForExampleBuilds(client, timeoutMs = 60_000) {
    const deadline = Date.now() + timeoutMs;
    const actors = {};
    for (const name of EXAMPLES) {
        for (;;) {
            const actor = await client.actor(`local/${name}`).get();
            if (actor?.taggedBuilds?.latest) {
                actors[name] = actor;
                break;
            }
            if (Date.now() > deadline) {
                const builds = actor ? (await client.actor(actor.id).builds().list()).items : [];
                throw new Error(`actor local/${name} has no latest build after ${timeoutMs}ms: `
                    + `actor=${JSON.stringify(actor)} builds=${JSON.stringify(builds)}`);
            }
            await sleep(100);
        }
    }
    return actors;
}

/**
 * Reads the run's log as a stream (GET .../log?stream=1) until `pattern`
 * matched `count` times, then closes the stream and resolves with the text
 * read so far. Rejects when the stream ends first or after timeoutMs.
 */
export async function waitForLog(client, runId, pattern, { count = 1, timeoutMs = 30_000 } = {}) {
    const re = new RegExp(pattern.source, pattern.flags.includes('g') ? pattern.flags : `${pattern.flags}g`);
    const stream = await client.run(runId).log().stream();
    assert.ok(stream, `log stream of run ${runId} not found`);
    let text = '';
    const timer = setTimeout(() => stream.destroy(new Error('timeout')), timeoutMs);
    try {
        for await (const chunk of stream) {
            text += chunk.toString();
            if ((text.match(re) || []).length >= count) return text;
        }
        throw new Error(`log stream of run ${runId} ended before ${re} matched ${count} time(s):\n${text}`);
    } catch (err) {
        if (err.message === 'timeout') {
            throw new Error(`log of run ${runId} did not match ${re} ${count} time(s) within ${timeoutMs}ms:\n${text}`);
        }
        throw err;
    } finally {
        clearTimeout(timer);
        stream.destroy();
    }
}

/**
 * A Log (the class apify-client accepts for call({log}) and
 * getStreamedLog({toLog})) that keeps the lines it is given. waitFor(re)
 * resolves once a line matching re was logged.
 */
export function capturingLog() {
    const lines = [];
    const logger = new (class extends Logger {
        _log(level, message) {
            lines.push(message);
            return message;
        }
    })();
    const log = new Log({ level: LEVELS.DEBUG, logger });
    function waitFor(re, timeoutMs = 10_000) {
        if (lines.some((l) => re.test(l))) return Promise.resolve();
        return new Promise((resolve, reject) => {
            const timer = setTimeout(() => {
                logger.off('line', onLine);
                reject(new Error(`no line matched ${re} within ${timeoutMs}ms: ${JSON.stringify(lines)}`));
            }, timeoutMs);
            function onLine(line) {
                if (!re.test(line)) return;
                clearTimeout(timer);
                logger.off('line', onLine);
                resolve();
            }
            logger.on('line', onLine);
        });
    }
    return { log, lines, waitFor };
}

/**
 * Awaits promise, asserts it rejected with an ApifyApiError of the given
 * status code (and type, when given) and returns the error.
 */
export async function expectApiError(promise, { statusCode, type } = {}) {
    let err;
    try {
        await promise;
    } catch (e) {
        err = e;
    }
    assert.ok(err, 'expected the call to fail with an ApifyApiError');
    assert.ok(err instanceof ApifyApiError, `expected an ApifyApiError, got ${err?.stack}`);
    assert.equal(typeof err.type, 'string', 'error.type must be a string');
    assert.ok(err.type.length > 0, 'error.type must not be empty');
    assert.equal(typeof err.message, 'string');
    if (statusCode !== undefined) assert.equal(err.statusCode, statusCode, `status of ${err.type}: ${err.message}`);
    if (type !== undefined) assert.equal(err.type, type, err.message);
    return err;
}

/** Asserts v is a valid Date (the client turns *At fields into Dates). */
export function assertDate(v, what) {
    assert.ok(v instanceof Date, `${what} should be a Date, got ${JSON.stringify(v)}`);
    assert.ok(!Number.isNaN(v.getTime()), `${what} is an invalid Date`);
}

/**
 * Asserts the shape of a run object as the schema in apify-api.md §4
 * requires it, with dates parsed by the client.
 */
export function assertRunShape(run) {
    assert.ok(run, 'run is missing');
    for (const k of ['id', 'actId', 'userId', 'buildId', 'defaultKeyValueStoreId', 'defaultDatasetId',
        'defaultRequestQueueId', 'generalAccess']) {
        assert.equal(typeof run[k], 'string', `run.${k} should be a string: ${JSON.stringify(run[k])}`);
        assert.ok(run[k].length > 0, `run.${k} is empty`);
    }
    assert.ok(STATUSES.includes(run.status), `unknown status ${run.status}`);
    assertDate(run.startedAt, 'run.startedAt');
    if (TERMINAL.includes(run.status)) {
        assertDate(run.finishedAt, 'run.finishedAt of a finished run');
        assert.ok(run.finishedAt >= run.startedAt, 'finishedAt before startedAt');
    } else {
        assert.equal(run.finishedAt ?? null, null, `finishedAt of a ${run.status} run`);
    }
    assert.equal(typeof run.meta?.origin, 'string', 'run.meta.origin');
    assert.equal(typeof run.stats, 'object');
    assert.equal(typeof run.options?.build, 'string', 'run.options.build');
    for (const k of ['timeoutSecs', 'memoryMbytes', 'diskMbytes']) {
        assert.equal(typeof run.options[k], 'number', `run.options.${k}`);
    }
    assert.match(run.buildNumber, /^([0-9]|[1-9][0-9])\.([0-9]|[1-9][0-9])(\.[1-9][0-9]{0,4})$/);
}

/**
 * The run executors a suite is run against, each { name, args, serverSays,
 * missing }: args are added to `troupe serve`'s command line, serverSays
 * (when set) matches a line the server logs once it uses that executor. "process" (local
 * processes) always; "kubernetes" on the test cluster named by KUBECONFIG
 * and TROUPE_KUBE_SERVE_ARGS (the kubeconfig and the TROUPE_SERVE_ARGS line
 * that scripts/kube-up prints; scripts/test exports both). Without them,
 * missing says how to start the cluster.
 *
 * The example actors say FROM node:20-alpine, which TROUPE_KUBE_SERVE_ARGS
 * maps to the test cluster's Node.js image.
 */
export function executors() {
    const kubeconfig = process.env.KUBECONFIG;
    const serveArgs = (process.env.TROUPE_KUBE_SERVE_ARGS ?? '').split(/\s+/).filter(Boolean);
    const kube = { name: 'kubernetes', args: [] };
    if (!kubeconfig || serveArgs.length === 0) {
        kube.missing = 'no test cluster: start one with `scripts/kube-up DIR`, then export the KUBECONFIG it '
            + 'prints, and its TROUPE_SERVE_ARGS as TROUPE_KUBE_SERVE_ARGS (scripts/test does both)';
    } else {
        // At level info the server says which executor its runs get.
        kube.args = ['--kubeconfig', kubeconfig, ...serveArgs, '--log-level', 'info'];
        kube.serverSays = /runs run as Kubernetes pods/;
    }
    return [{ name: 'process', args: [] }, kube];
}

/**
 * describe(title, options, body) for one of executors(): when its cluster
 * is missing, the suite is skipped with the reason, or fails with it under
 * CI=true (CI must run every suite).
 */
export function describeOn(executor, title, options, body) {
    const name = `${title} (${executor.name} executor)`;
    if (!executor.missing) return describe(name, options, () => body(executor));
    if (process.env.CI === 'true') {
        return describe(name, () => it('has its test cluster', () => assert.fail(executor.missing)));
    }
    return describe(name, { skip: executor.missing }, () => {});
}
