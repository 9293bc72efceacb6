// Runs an actor task, waits for it and reports what it produced.
import { Actor } from 'apify';

await Actor.init();

const input = await Actor.getInput();
const run = await Actor.callTask(input.task, input.input);
console.log(`Run ${run.id} of task ${input.task} ended ${run.status}.`);

const client = Actor.newClient();
const { items } = await client.dataset(run.defaultDatasetId).listItems();
const output = await client.keyValueStore(run.defaultKeyValueStoreId).getRecord('OUTPUT');

await Actor.setValue('OUTPUT', {
    runId: run.id,
    status: run.status,
    actorTaskId: run.actorTaskId,
    itemCount: items.length,
    output: output?.value ?? null,
});

if (run.status !== 'SUCCEEDED') await Actor.fail(`task ${input.task} ended ${run.status}`);
await Actor.exit(`Called task ${input.task}`);
