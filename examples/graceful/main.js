// Listens on the run's events websocket. On "aborting" it stores a STATE
// record in its default key-value store and exits 0, as an actor that
// handles a graceful abort does. The websocket client is written out here
// so that the example needs no npm packages.
const http = require('http');
const crypto = require('crypto');
const env = process.env;

async function saveState(event) {
    const url = `${env.APIFY_API_BASE_URL}/v2/key-value-stores/${env.ACTOR_DEFAULT_KEY_VALUE_STORE_ID}/records/STATE`;
    await fetch(url, {
        method: 'PUT',
        headers: { authorization: `Bearer ${env.APIFY_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ savedOn: event, at: new Date().toISOString() }),
    });
}

function onEvent(event) {
    console.log(`event ${event.name}`);
    if (event.name === 'aborting') saveState('aborting').then(() => process.exit(0));
}

// A minimal websocket client: enough for the server's unfragmented text
// frames, ping and close.
function listen(wsURL) {
    const u = new URL(wsURL.replace(/^ws/, 'http'));
    const req = http.request({
        hostname: u.hostname, port: u.port, path: u.pathname + u.search,
        headers: { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13',
            'Sec-WebSocket-Key': crypto.randomBytes(16).toString('base64') },
    });
    req.on('upgrade', (res, socket) => {
        console.log('connected to the events websocket');
        let buf = Buffer.alloc(0);
        socket.on('data', (chunk) => {
            buf = Buffer.concat([buf, chunk]);
            while (buf.length >= 2) {
                const op = buf[0] & 0x0f;
                let len = buf[1] & 0x7f;
                let off = 2;
                if (len === 126) { if (buf.length < 4) return; len = buf.readUInt16BE(2); off = 4; }
                if (len === 127) { if (buf.length < 10) return; len = Number(buf.readBigUInt64BE(2)); off = 10; }
                if (buf.length < off + len) return;
                const payload = buf.subarray(off, off + len);
                buf = buf.subarray(off + len);
                if (op === 1) onEvent(JSON.parse(payload.toString()));
                if (op === 9) { // ping → masked pong
                    const mask = crypto.randomBytes(4);
                    const body = Buffer.from(payload.map((b, i) => b ^ mask[i % 4]));
                    socket.write(Buffer.concat([Buffer.from([0x8a, 0x80 | body.length]), mask, body]));
                }
                if (op === 8) socket.end();
            }
        });
        socket.on('error', () => {});
    });
    req.on('error', (err) => console.log(`events websocket error: ${err.message}`));
    req.end();
}

listen(env.ACTOR_EVENTS_WEBSOCKET_URL);
console.log('working until aborted');
setInterval(() => {}, 1000);
