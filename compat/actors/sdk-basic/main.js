// Reads its input, pushes one item and then a batch, stores OUTPUT and
// exits with a status message: the basic life of an Apify SDK actor.
import { Actor } from 'apify';

await Actor.init();

const input = await Actor.getInput();
console.log(`Input: ${JSON.stringify(input)}`);
await Actor.setStatusMessage(`Pushing ${input.count} items`);

await Actor.pushData({ kind: 'single', greeting: input.greeting });

// Each item carries some text so that the batch is well over 1 KB.
const batch = Array.from({ length: input.count }, (_, index) => ({
    kind: 'batch',
    index,
    text: `item ${index} `.repeat(20),
}));
await Actor.pushData(batch);

const env = Actor.getEnv();

// Named storages outlive the run: whichever run of this actor comes first
// makes them, the later ones open the same ones.
const state = await Actor.openKeyValueStore('sdk-basic-state');
await state.setValue(`run-${env.actorRunId}`, { greeting: input.greeting });
const queue = await Actor.openRequestQueue('sdk-basic-queue');
await queue.addRequest({ url: `https://example.com/${env.actorRunId}` });

await Actor.setValue('OUTPUT', {
    greeting: input.greeting,
    pushed: 1 + batch.length,
    runId: env.actorRunId,
    actorId: env.actorId,
});

if (input.failWith) await Actor.fail(input.failWith);

await Actor.exit('done!');
