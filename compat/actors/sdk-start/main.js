// The smallest useful Apify SDK actor, as a new user writes it: it reads
// its input, pushes one item, stores OUTPUT and exits. troupe's benchmark
// times it through `troupe call` against `node main.js` run directly.
import { Actor } from 'apify';

await Actor.init();

const input = (await Actor.getInput()) ?? {};
await Actor.pushData({ greeting: input.greeting ?? 'hello' });
await Actor.setValue('OUTPUT', { greeting: input.greeting ?? 'hello' });

await Actor.exit();
