// Prints its input, stores it as the OUTPUT record and exits with the
// exit code the input asks for. Needs no npm packages: it talks to the
// API with fetch, using the environment every troupe run gets.
const env = process.env;
const api = (path, init = {}) => fetch(`${env.APIFY_API_BASE_URL}/v2${path}`, {
    ...init, headers: { authorization: `Bearer ${env.APIFY_TOKEN}`, ...init.headers },
});
const kvs = `/key-value-stores/${env.ACTOR_DEFAULT_KEY_VALUE_STORE_ID}/records`;

(async () => {
    const res = await api(`${kvs}/${env.ACTOR_INPUT_KEY}`);
    const input = res.ok ? await res.json() : {};
    console.log(`run ${env.ACTOR_RUN_ID} input key ${env.ACTOR_INPUT_KEY}`);
    console.log(`message: ${input.message}`);
    console.error('this line goes to stderr');
    await api(`${kvs}/OUTPUT`, {
        method: 'PUT', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ input, inputKey: env.ACTOR_INPUT_KEY, actorId: env.ACTOR_ID }),
    });
    process.exit(input.exitCode || 0);
})();
