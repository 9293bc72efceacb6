// Runs another actor, waits for it and reports what it produced.
import { Actor } from 'apify';

await Actor.init();

const input = await Actor.getInput();
const run = await Actor.call(input.actor, input.input);
console.log(`Run ${run.id} of ${input.actor} ended ${run.status}.`);

const client = Actor.newClient();
const { items } = await client.dataset(run.defaultDatasetId).listItems();
const output = await client.keyValueStore(run.defaultKeyValueStoreId).getRecord('OUTPUT');

await Actor.setValue('OUTPUT', {
    runId: run.id,
    status: run.status,
    itemCount: items.length,
    output: output?.value ?? null,
});

if (run.status !== 'SUCCEEDED') await Actor.fail(`${input.actor} ended ${run.status}`);
await Actor.exit(`Called ${input.actor}`);
