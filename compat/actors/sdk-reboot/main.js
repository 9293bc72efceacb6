// Reboots itself once: the first process leaves a counter in the default
// key-value store and reboots; the second finds it and finishes.
import { Actor } from 'apify';

await Actor.init();

const starts = ((await Actor.getValue('STARTS')) ?? 0) + 1;
await Actor.setValue('STARTS', starts);
await Actor.pushData({ start: starts });
console.log(`Start number ${starts}.`);

if (starts === 1) {
    await Actor.setStatusMessage('Rebooting');
    await Actor.reboot();
    // The platform stops this process while reboot() waits.
    console.log('Still running after reboot!');
    await Actor.fail('reboot did not stop the actor');
}

await Actor.setValue('OUTPUT', { starts });
await Actor.exit(`Finished after ${starts} starts`);
