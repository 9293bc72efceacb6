// A troupe server stopped with SIGTERM migrates its runs: an unmodified SDK
// actor saves its state on `migrating` and reads it back when the server
// starts again. The same server hands runs an upstream proxy.
import assert from 'node:assert/strict';
import http from 'node:http';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

import { newClient, startTroupe, troupeCLI, waitForLog } from './harness.mjs';

const ACTORS_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'actors');
const LIMIT = { timeout: 280_000 };

describe('migration on SIGTERM and the upstream proxy', () => {
    let server;
    let proxy;

    before(async () => {
        proxy = await startForwardProxy();
        server = await startTroupe({
            examples: false,
            args: ['--log-level', 'info'],
            env: { TROUPE_PROXY_URL: `http://user:s3cret-pw@127.0.0.1:${proxy.port}` },
        });
        // Both projects have the same package files: the second reuses the
        // first one's installed packages.
        await troupeCLI(server, ['push', path.join(ACTORS_DIR, 'sdk-proxy')]);
        await troupeCLI(server, ['push', path.join(ACTORS_DIR, 'sdk-migrating')]);
    }, { timeout: 240_000 });

    after(async () => {
        await server?.stop();
        proxy?.close();
    });

    it('sdk-proxy: createProxyConfiguration() gets the configured proxy, and its check stays inside troupe', LIMIT, async () => {
        const client = newClient(server.url);
        const run = await client.actor('local/sdk-proxy').call({ proxyUrls: ['http://127.0.0.1:3128'] }, { log: null });
        const text = await client.run(run.id).log().get();
        assert.equal(run.status, 'SUCCEEDED', text);
        const { value: output } = await client.keyValueStore(run.defaultKeyValueStoreId).getRecord('OUTPUT');
        assert.equal(output.platformError, undefined);
        assert.match(output.platform, new RegExp(`^http://[^:@]+:s3cret-pw@127\\.0\\.0\\.1:${proxy.port}$`));
        // The SDK's access check went through the proxy to troupe itself.
        const checks = proxy.seen.filter((r) => r.url.startsWith(`${server.url}/v2/proxy-status/`));
        assert.ok(checks.length >= 1, JSON.stringify(proxy.seen));
        assert.ok(checks.every((r) => r.password === 's3cret-pw'));
        // The server logged the proxy with its password masked.
        assert.match(server.stderr(), new RegExp(`http://user:x+@127\\.0\\.0\\.1:${proxy.port}`));
        assert.doesNotMatch(server.stderr(), /s3cret-pw/);
    });

    it('sdk-migrating: state saved on migrating is read back after the server restarts', LIMIT, async () => {
        let client = newClient(server.url);
        const started = await client.actor('local/sdk-migrating').start();
        await waitForLog(client, started.id, /Counted to 5; working until migrated\./);

        await server.stop({ keepData: true });
        server = await startTroupe({
            examples: false, dataDir: server.dataDir,
            env: { TROUPE_PROXY_URL: `http://user:s3cret-pw@127.0.0.1:${proxy.port}` },
        });
        client = newClient(server.url);
        const run = await client.run(started.id).waitForFinish({ waitSecs: 120 });
        const text = await client.run(run.id).log().get();
        assert.equal(run.status, 'SUCCEEDED', text);
        assert.equal(run.stats.migrationCount, 1);
        assert.equal(run.defaultKeyValueStoreId, started.defaultKeyValueStoreId);

        const kvs = client.keyValueStore(run.defaultKeyValueStoreId);
        const { value: state } = await kvs.getRecord('STATE');
        const { value: output } = await kvs.getRecord('OUTPUT');
        assert.ok(state.count >= 5, `${JSON.stringify(state)}\n${text}`);
        assert.deepEqual(output, { restored: state.count, starts: 2 });
        assert.equal(run.statusMessage, `Restored count ${state.count}`);
        assert.match(text, /Saved count \d+ on migrating\.[^]*Start 2 with count/);
    });
});

/**
 * A forward HTTP proxy on loopback (absolute-form requests only, which is
 * what the SDK's access check sends for an http:// URL). It records each
 * request's URL and the password of its Proxy-Authorization.
 */
async function startForwardProxy() {
    const seen = [];
    const srv = http.createServer((req, res) => {
        const auth = req.headers['proxy-authorization'] ?? '';
        const creds = Buffer.from(auth.replace(/^Basic /, ''), 'base64').toString();
        seen.push({ url: req.url, password: creds.slice(creds.indexOf(':') + 1) });
        const target = new URL(req.url);
        const headers = { ...req.headers };
        delete headers['proxy-authorization'];
        const up = http.request(target, { method: req.method, headers }, (upRes) => {
            res.writeHead(upRes.statusCode, upRes.headers);
            upRes.pipe(res);
        });
        up.on('error', () => res.writeHead(502).end());
        req.pipe(up);
    });
    await new Promise((resolve) => srv.listen(0, '127.0.0.1', resolve));
    return { port: srv.address().port, seen, close: () => srv.close() };
}
