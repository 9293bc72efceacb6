// Counts until the platform migrates it. On migrating it saves its state in
// the default key-value store; the next process reads it back, says what it
// found and finishes.
import { Actor } from 'apify';

await Actor.init();

const state = (await Actor.getValue('STATE')) ?? { count: 0, starts: 0 };
state.starts += 1;
console.log(`Start ${state.starts} with count ${state.count}.`);

if (state.starts > 1) {
    await Actor.setValue('OUTPUT', { restored: state.count, starts: state.starts });
    await Actor.exit(`Restored count ${state.count}`);
}

Actor.on('migrating', async () => {
    await Actor.setValue('STATE', state);
    console.log(`Saved count ${state.count} on migrating.`);
});

setInterval(() => {
    state.count += 1;
    if (state.count === 5) console.log('Counted to 5; working until migrated.');
}, 50);
