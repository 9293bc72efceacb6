// Runs unmodified actors written with the npm `apify` SDK and Crawlee on a
// real troupe server: each project in actors/ is pushed with `troupe push`
// (the build installs its pinned npm packages), run, and checked through
// the official apify-client the way a user would check it on the platform
// (apify-sdk-platform.md §2–§5).
import assert from 'node:assert/strict';
import http from 'node:http';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

import { assertRunShape, newClient, startTroupe, troupeCLI, waitForLog } from './harness.mjs';

const ACTORS_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'actors');
const ACTORS = ['sdk-basic', 'sdk-graceful', 'sdk-metamorph', 'sdk-target', 'sdk-reboot', 'sdk-call', 'sdk-call-task', 'crawler',
    'sdk-proxy', 'sdk-webhook'];

// A test waits for the builds it needs first; the builds install npm
// packages from the registry, so the limit is generous.
const LIMIT = { timeout: 280_000 };

describe('unmodified Apify SDK and Crawlee actors on troupe', { concurrency: true }, () => {
    let server;
    let client;
    let site;
    const builds = {}; // actor name → promise of its actor object, once built
    const longRuns = new Set();

    before(async () => {
        server = await startTroupe({ examples: false });
        client = newClient(server.url);
        site = await startSite();
        // All pushes at once: the server builds two at a time. The sdk-*
        // projects have the same package.json and package-lock.json, so
        // after the first of them has installed, the others reuse its
        // node_modules (and all share the server's npm cache).
        for (const name of ACTORS) {
            builds[name] = troupeCLI(server, ['push', path.join(ACTORS_DIR, name)])
                .then(() => client.actor(`local/${name}`).get());
            // A failed build fails the tests that need it, when they await it.
            builds[name].catch(() => {});
        }
    }, { timeout: 60_000 });

    after(async () => {
        await Promise.allSettled(Object.values(builds));
        if (server) {
            await Promise.allSettled([...longRuns].map((id) => client.run(id).abort()));
            await server.stop();
        }
        site?.close();
    }, { timeout: 60_000 });

    /** Waits for the builds of the named actors and returns them by name. */
    async function built(...names) {
        const actors = await Promise.all(names.map((n) => builds[n]));
        return Object.fromEntries(names.map((n, i) => {
            assert.ok(actors[i]?.taggedBuilds?.latest, `local/${n} has no latest build`);
            return [n, actors[i]];
        }));
    }

    async function log(runId) {
        return client.run(runId).log().get();
    }

    it('sdk-webhook: Actor.addWebhook once per idempotency key; the receiver gets the call when the run succeeds', LIMIT, async () => {
        await built('sdk-webhook');
        const calls = [];
        let called;
        const gotCall = new Promise((resolve) => { called = resolve; });
        const receiver = http.createServer((req, res) => {
            let body = '';
            req.on('data', (chunk) => { body += chunk; });
            req.on('end', () => {
                calls.push({ headers: req.headers, body: JSON.parse(body) });
                res.end('ok');
                called();
            });
        });
        await new Promise((resolve) => receiver.listen(0, '127.0.0.1', resolve));
        try {
            const url = `http://127.0.0.1:${receiver.address().port}/done`;
            const run = await client.actor('local/sdk-webhook').call({ url, key: 'finished' }, { log: null });
            assert.equal(run.status, 'SUCCEEDED', await log(run.id));
            const { value: out } = await client.keyValueStore(run.defaultKeyValueStoreId).getRecord('OUTPUT');
            assert.equal(out.first, out.second, 'the second addWebhook made another webhook');

            let timer;
            await Promise.race([gotCall, new Promise((_, reject) => {
                timer = setTimeout(() => reject(new Error('no webhook call within 30 s')), 30_000);
            })]).finally(() => clearTimeout(timer));
            assert.deepEqual(calls[0].body, { runId: run.id, status: 'SUCCEEDED', eventType: 'ACTOR.RUN.SUCCEEDED' });
            assert.equal(calls[0].headers['x-apify-webhook'], out.first);

            const hook = await client.webhook(out.first).get();
            assert.equal(hook.isAdHoc, true);
            assert.equal(hook.condition.actorRunId, run.id);
            const { items } = await client.webhooks().list();
            assert.equal(items.filter((h) => h.condition.actorRunId === run.id).length, 1);
            const dispatches = await client.webhook(out.first).dispatches().list();
            assert.equal(dispatches.items.length, 1);
            assert.equal(dispatches.items[0].eventType, 'ACTOR.RUN.SUCCEEDED');
        } finally {
            receiver.close();
        }
    });

    it('sdk-basic: reads its input, pushes items, sets OUTPUT and status messages, exits with done!', LIMIT, async () => {
        const { 'sdk-basic': actor } = await built('sdk-basic');
        const run = await client.actor('local/sdk-basic').call({ greeting: 'hello' }, { log: null });
        assertRunShape(run);
        assert.equal(run.status, 'SUCCEEDED', await log(run.id));
        assert.equal(run.exitCode, 0);
        assert.equal(run.actId, actor.id);
        // Actor.exit('done!') sets a terminal status message, which troupe keeps.
        assert.equal(run.statusMessage, 'done!');
        assert.equal(run.isStatusMessageTerminal, true);

        // Actor.getInput() saw the input with the schema's default merged in.
        const text = await log(run.id);
        assert.match(text, /Input: \{"greeting":"hello","count":10\}/);
        assert.match(text, /\[Status message\]: Pushing 10 items/);

        // Actor.pushData: one object, then an array of 10 (over 1 KB, so
        // the client sent it brotli-compressed).
        const { items, total } = await client.dataset(run.defaultDatasetId).listItems();
        assert.equal(total, 11);
        assert.deepEqual(items[0], { kind: 'single', greeting: 'hello' });
        assert.deepEqual(items.slice(1).map((i) => i.index), [...Array(10).keys()]);
        assert.ok(items.slice(1).every((i) => i.kind === 'batch' && i.text === `item ${i.index} `.repeat(20)));
        const dataset = await client.dataset(run.defaultDatasetId).get();
        assert.equal(dataset.itemCount, 11);
        assert.equal(dataset.actRunId, run.id);

        const output = await client.keyValueStore(run.defaultKeyValueStoreId).getRecord('OUTPUT');
        assert.match(output.contentType, /^application\/json/);
        assert.deepEqual(output.value, { greeting: 'hello', pushed: 11, runId: run.id, actorId: actor.id });

        // Its named storages, which the run's limited token reaches
        // because a run of this actor made them.
        const state = await client.keyValueStore('local~sdk-basic-state').get();
        assert.equal(state?.name, 'sdk-basic-state');
        assert.equal(state.actId, actor.id);
        const record = await client.keyValueStore(state.id).getRecord(`run-${run.id}`);
        assert.deepEqual(record?.value, { greeting: 'hello' });
        const queue = await client.requestQueue('local~sdk-basic-queue').get();
        assert.equal(queue?.actId, actor.id);
        const { items: requests } = await client.requestQueue(queue.id).listRequests();
        assert.ok(requests.some((r) => r.url === `https://example.com/${run.id}`), JSON.stringify(requests));
    });

    it('sdk-basic: Actor.fail() ends the run FAILED with its message', LIMIT, async () => {
        await built('sdk-basic');
        const run = await client.actor('local/sdk-basic').call({ greeting: 'hi', count: 1, failWith: 'it broke' }, { log: null });
        assertRunShape(run);
        assert.equal(run.status, 'FAILED', await log(run.id));
        assert.equal(run.exitCode, 1);
        assert.equal(run.statusMessage, 'it broke');
        assert.equal(run.isStatusMessageTerminal, true);
        // What it did before failing is kept.
        const { total } = await client.dataset(run.defaultDatasetId).listItems();
        assert.equal(total, 2);
    });

    it('sdk-graceful: a graceful abort is handled by the SDK, which saves its state and exits 0', LIMIT, async () => {
        await built('sdk-graceful');
        const started = await client.actor('local/sdk-graceful').start();
        longRuns.add(started.id);
        // The SDK receives the platform's systemInfo events (every 2 s).
        await waitForLog(client, started.id, /Working until aborted\.[^]*First systemInfo: /, { timeoutMs: 60_000 })
            .catch(async (err) => {
                const run = await client.run(started.id).get();
                throw new Error(`${err.message}\nrun: ${JSON.stringify(run)}\nwhole log:\n${await log(started.id)}`);
            });

        const aborting = await client.run(started.id).abort({ gracefully: true });
        assert.ok(['ABORTING', 'ABORTED'].includes(aborting.status), aborting.status);
        const run = await client.run(started.id).waitForFinish();
        assertRunShape(run);
        const text = await log(run.id);
        assert.equal(run.status, 'ABORTED', text);
        // The SDK's own aborting handler called Actor.exit(): the process
        // ended by itself with 0 instead of being killed after the grace period.
        assert.equal(run.exitCode, 0, text);

        // useState's value was saved on the final persistState, and so was
        // what the actor's own persistState listener wrote.
        const kvs = client.keyValueStore(run.defaultKeyValueStoreId);
        const state = await kvs.getRecord('STATE');
        assert.ok(state, 'STATE was not saved');
        assert.ok(state.value.ticks > 0, JSON.stringify(state.value));
        const persisted = await kvs.getRecord('PERSISTED');
        assert.ok(persisted, 'the persistState listener did not run');
        assert.ok(persisted.value.ticks > 0);
        assert.equal(persisted.value.isMigrating, false);
        const info = state.value.lastSystemInfo;
        for (const k of ['memAvgBytes', 'memCurrentBytes', 'memMaxBytes', 'cpuAvgUsage', 'cpuMaxUsage', 'cpuCurrentUsage']) {
            assert.equal(typeof info[k], 'number', `systemInfo.${k}: ${JSON.stringify(info)}`);
        }
        assert.equal(typeof info.isCpuOverloaded, 'boolean');
        assert.ok(!Number.isNaN(Date.parse(info.createdAt)), info.createdAt);
        assert.equal(info.memMaxBytes, run.options.memoryMbytes * 1024 * 1024);
        assert.ok(info.memCurrentBytes > 0, 'no memory figure for a running Node.js process');
    });

    it('sdk-metamorph: Actor.metamorph() turns the run into sdk-target, which reads INPUT-METAMORPH-1', LIMIT, async () => {
        const { 'sdk-target': target } = await built('sdk-metamorph', 'sdk-target');
        const input = { greeting: 'hey', target: 'local/sdk-target' };
        const run = await client.actor('local/sdk-metamorph').call(input, { log: null });
        assertRunShape(run);
        const text = await log(run.id);
        assert.equal(run.status, 'SUCCEEDED', text);
        assert.equal(run.statusMessage, 'target done');
        assert.doesNotMatch(text, /Still running after metamorph/);
        // The run is now the target's, with the metamorph in its history.
        assert.equal(run.actId, target.id);
        assert.equal(run.stats.metamorph, 1);
        assert.equal(run.metamorphs.length, 1);
        assert.equal(run.metamorphs[0].actorId, target.id);
        assert.equal(run.metamorphs[0].inputKey, 'INPUT-METAMORPH-1');

        // Same default storages: the first actor's records and items are there.
        const kvs = client.keyValueStore(run.defaultKeyValueStoreId);
        assert.deepEqual((await kvs.getRecord('BEFORE_METAMORPH')).value, { input });
        assert.deepEqual((await kvs.getRecord('INPUT')).value, input);
        // The new input has the target's input-schema default merged in.
        assert.deepEqual((await kvs.getRecord('INPUT-METAMORPH-1')).value, { greeting: 'hey, metamorphed', suffix: '!' });
        assert.deepEqual((await kvs.getRecord('OUTPUT')).value, {
            message: 'hey, metamorphed!',
            input: { greeting: 'hey, metamorphed', suffix: '!' },
            inputKey: 'INPUT-METAMORPH-1',
            actorId: target.id,
        });
        const { items } = await client.dataset(run.defaultDatasetId).listItems();
        assert.deepEqual(items, [{ from: 'sdk-metamorph' }, { from: 'sdk-target', greeting: 'hey, metamorphed' }]);
    });

    it('sdk-reboot: Actor.reboot() restarts the run with its storages kept', LIMIT, async () => {
        await built('sdk-reboot');
        const run = await client.actor('local/sdk-reboot').call(undefined, { log: null });
        assertRunShape(run);
        const text = await log(run.id);
        assert.equal(run.status, 'SUCCEEDED', text);
        assert.equal(run.stats.rebootCount, 1);
        assert.equal(run.statusMessage, 'Finished after 2 starts');
        assert.doesNotMatch(text, /Still running after reboot/);
        assert.match(text, /Start number 1\.[^]*Start number 2\./);

        const kvs = client.keyValueStore(run.defaultKeyValueStoreId);
        assert.equal((await kvs.getRecord('STARTS')).value, 2);
        assert.deepEqual((await kvs.getRecord('OUTPUT')).value, { starts: 2 });
        const { items } = await client.dataset(run.defaultDatasetId).listItems();
        assert.deepEqual(items, [{ start: 1 }, { start: 2 }]);
    });

    it('sdk-proxy: proxyUrls are used as given; without them the error names --proxy-url', LIMIT, async () => {
        await built('sdk-proxy');
        const proxyUrls = ['http://127.0.0.1:3128', 'http://user:pw@127.0.0.1:3129'];
        const run = await client.actor('local/sdk-proxy').call({ proxyUrls }, { log: null });
        const text = await log(run.id);
        assert.equal(run.status, 'SUCCEEDED', text);
        const { value: output } = await client.keyValueStore(run.defaultKeyValueStoreId).getRecord('OUTPUT');
        assert.deepEqual(output.own, proxyUrls);
        // This server has no upstream proxy: the SDK's access check asked
        // troupe (never the internet), and troupe's answer says what to set.
        assert.equal(output.platform, undefined);
        assert.match(output.platformError, /no upstream proxy configured: start `troupe serve` with --proxy-url/);
    });

    it('sdk-call: Actor.call() runs sdk-basic to the end and reads its results', LIMIT, async () => {
        const { 'sdk-basic': basic } = await built('sdk-call', 'sdk-basic');
        const input = { actor: 'local/sdk-basic', input: { greeting: 'from sdk-call', count: 3 } };
        const run = await client.actor('local/sdk-call').call(input, { log: null });
        assertRunShape(run);
        const text = await log(run.id);
        assert.equal(run.status, 'SUCCEEDED', text);
        assert.equal(run.statusMessage, 'Called local/sdk-basic');

        const { value: output } = await client.keyValueStore(run.defaultKeyValueStoreId).getRecord('OUTPUT');
        assert.equal(output.status, 'SUCCEEDED');
        assert.equal(output.itemCount, 4);
        assert.deepEqual(output.output, { greeting: 'from sdk-call', pushed: 4, runId: output.runId, actorId: basic.id });

        const child = await client.run(output.runId).get();
        assertRunShape(child);
        assert.equal(child.status, 'SUCCEEDED');
        assert.equal(child.actId, basic.id);
        assert.equal(child.statusMessage, 'done!');
        assert.ok(child.startedAt >= run.startedAt && child.finishedAt <= run.finishedAt);
        // Actor.call() streamed the child's log into the caller's.
        assert.match(text, new RegExp(`sdk-basic runId:${child.id} -> .*Input: \\{"greeting":"from sdk-call","count":3\\}`));
    });

    it('sdk-call-task: Actor.callTask() runs a task of sdk-basic with its input merged and reads its results', LIMIT, async () => {
        const { 'sdk-basic': basic } = await built('sdk-call-task', 'sdk-basic');
        const task = await client.tasks().create({
            actId: basic.id, name: 'basic-task', input: { greeting: 'from the task', count: 1 }, options: { memoryMbytes: 256 },
        });
        const input = { task: task.id, input: { count: 3 } };
        const run = await client.actor('local/sdk-call-task').call(input, { log: null });
        assertRunShape(run);
        const text = await log(run.id);
        assert.equal(run.status, 'SUCCEEDED', text);
        assert.equal(run.statusMessage, `Called task ${task.id}`);

        const { value: output } = await client.keyValueStore(run.defaultKeyValueStoreId).getRecord('OUTPUT');
        assert.equal(output.status, 'SUCCEEDED');
        assert.equal(output.actorTaskId, task.id);
        assert.equal(output.itemCount, 4);
        // The task's greeting, the caller's count.
        assert.deepEqual(output.output, { greeting: 'from the task', pushed: 4, runId: output.runId, actorId: basic.id });

        const child = await client.run(output.runId).get();
        assertRunShape(child);
        assert.equal(child.actorTaskId, task.id);
        assert.equal(child.options.memoryMbytes, 256);
        const last = await client.task(task.id).lastRun().get();
        assert.equal(last.id, child.id);
        const { items } = await client.task(task.id).runs().list();
        assert.deepEqual(items.map((r) => r.id), [child.id]);
    });

    it('crawler: a CheerioCrawler crawls the whole test site through the run\'s request queue', LIMIT, async () => {
        await built('crawler');
        const run = await client.actor('local/crawler').call({ startUrls: [{ url: `${site.url}/` }] }, { log: null });
        assertRunShape(run);
        const text = await log(run.id);
        assert.equal(run.status, 'SUCCEEDED', text);
        const pages = Object.keys(site.pages).length;
        // Crawlee's own terminal status message.
        assert.equal(run.statusMessage, `Finished! Total ${pages} requests: ${pages} succeeded, 0 failed.`);
        assert.equal(run.isStatusMessageTerminal, true);

        // One item per page of the site, each with its title.
        const { items } = await client.dataset(run.defaultDatasetId).listItems();
        const crawled = items.map((i) => new URL(i.url).pathname).sort();
        assert.deepEqual(crawled, Object.keys(site.pages).sort());
        for (const item of items) {
            const p = new URL(item.url).pathname;
            assert.equal(item.title, `Page ${p}`);
            assert.deepEqual(item.links, site.pages[p]);
        }
        // Each page was fetched once: the queue deduplicated the links.
        for (const [p, hits] of Object.entries(site.hits)) assert.equal(hits, 1, `${p} fetched ${hits} times`);

        // The default request queue holds every request, all handled.
        const rq = client.requestQueue(run.defaultRequestQueueId);
        const queue = await rq.get();
        assert.equal(queue.totalRequestCount, pages);
        assert.equal(queue.handledRequestCount, pages);
        assert.equal(queue.pendingRequestCount, 0);
        const { items: requests } = await rq.listRequests();
        assert.equal(requests.length, pages);
        assert.ok(requests.every((r) => r.handledAt), JSON.stringify(requests.filter((r) => !r.handledAt)));
        assert.deepEqual(requests.map((r) => new URL(r.url).pathname).sort(), Object.keys(site.pages).sort());
        assert.equal((await rq.listHead()).items.length, 0);
    });
});

/**
 * Serves a small site on loopback: pages that link to each other (with a
 * cycle, a link back home, a fragment) and to another host, which the
 * crawler must not follow. It counts the hits of every page.
 */
async function startSite() {
    const pages = { '/': ['/docs', '/blog', '/about#team', 'http://localhost:1/elsewhere'] };
    pages['/about'] = ['/'];
    pages['/docs'] = ['/docs/1', '/docs/2', '/docs/3'];
    pages['/blog'] = ['/blog/1', '/blog/2'];
    for (let i = 1; i <= 3; i++) pages[`/docs/${i}`] = [`/docs/${(i % 3) + 1}`, '/docs', '/blog/1'];
    for (let i = 1; i <= 2; i++) pages[`/blog/${i}`] = [`/blog/${3 - i}`, '/'];
    const hits = {};
    const srv = http.createServer((req, res) => {
        const p = new URL(req.url, 'http://x').pathname;
        const links = pages[p];
        if (!links) {
            res.writeHead(404).end();
            return;
        }
        hits[p] = (hits[p] ?? 0) + 1;
        const body = links.map((l) => `<li><a href="${l}">${l}</a></li>`).join('');
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        res.end(`<!doctype html><html><head><title>Page ${p}</title></head><body><ul>${body}</ul></body></html>`);
    });
    await new Promise((resolve) => srv.listen(0, '127.0.0.1', resolve));
    return {
        url: `http://127.0.0.1:${srv.address().port}`,
        pages,
        hits,
        close: () => srv.close(),
    };
}
