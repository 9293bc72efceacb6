// Reads the input under ACTOR_INPUT_KEY (INPUT-METAMORPH-N after a
// metamorph) and stores what it found as the OUTPUT record.
const env = process.env;
const kvs = `${env.APIFY_API_BASE_URL}/v2/key-value-stores/${env.ACTOR_DEFAULT_KEY_VALUE_STORE_ID}/records`;
const auth = { authorization: `Bearer ${env.APIFY_TOKEN}` };
(async () => {
    const res = await fetch(`${kvs}/${env.ACTOR_INPUT_KEY}`, { headers: auth });
    const input = res.ok ? await res.json() : null;
    console.log(`metamorph target read ${env.ACTOR_INPUT_KEY}: ${JSON.stringify(input)}`);
    await fetch(`${kvs}/OUTPUT`, {
        method: 'PUT', headers: { ...auth, 'content-type': 'application/json' },
        body: JSON.stringify({ inputKey: env.ACTOR_INPUT_KEY, input, actorId: env.ACTOR_ID, runId: env.ACTOR_RUN_ID }),
    });
})();
