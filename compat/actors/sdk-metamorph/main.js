// Hands its run over to another actor with a new input.
import { Actor } from 'apify';

await Actor.init();

const input = await Actor.getInput();
await Actor.setValue('BEFORE_METAMORPH', { input });
await Actor.pushData({ from: 'sdk-metamorph' });

console.log(`Metamorphing into ${input.target}.`);
await Actor.metamorph(input.target, { greeting: `${input.greeting}, metamorphed` });

// The platform stops this process while metamorph() waits; this line is
// never reached there.
console.log('Still running after metamorph!');
await Actor.fail('metamorph did not stop the actor');
