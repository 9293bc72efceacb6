// Stores the input it was started (or metamorphed) with as OUTPUT.
import { Actor } from 'apify';

await Actor.init();

const input = await Actor.getInput();
const env = Actor.getEnv();
await Actor.pushData({ from: 'sdk-target', greeting: input.greeting });
await Actor.setValue('OUTPUT', {
    message: `${input.greeting}${input.suffix}`,
    input,
    inputKey: env.inputKey,
    actorId: env.actorId,
});

await Actor.exit('target done');
