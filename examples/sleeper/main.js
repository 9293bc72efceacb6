// Prints a line every second for SLEEP_SECS seconds (default 300), from its
// input when it has one. Used to try abort, reboot, metamorph and timeouts.
const env = process.env;
(async () => {
    let secs = 300;
    const res = await fetch(`${env.APIFY_API_BASE_URL}/v2/key-value-stores/${env.ACTOR_DEFAULT_KEY_VALUE_STORE_ID}/records/${env.ACTOR_INPUT_KEY}`,
        { headers: { authorization: `Bearer ${env.APIFY_TOKEN}` } });
    if (res.ok) secs = (await res.json()).secs ?? secs;
    console.log(`sleeping ${secs}s (run ${env.ACTOR_RUN_ID})`);
    for (let i = 1; i <= secs; i++) {
        await new Promise((r) => setTimeout(r, 1000));
        console.log(`tick ${i}`);
    }
})();
