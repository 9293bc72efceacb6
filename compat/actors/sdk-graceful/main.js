// Works until it is told to stop. It keeps its progress in a state object
// that the SDK saves on every persistState event, and relies on the SDK's
// default graceful shutdown: on "aborting" the SDK persists the state and
// exits.
import { Actor } from 'apify';

await Actor.init();

const state = await Actor.useState('STATE', { ticks: 0, startedAt: new Date().toISOString() });

Actor.on('persistState', async ({ isMigrating } = {}) => {
    await Actor.setValue('PERSISTED', { ticks: state.ticks, isMigrating: Boolean(isMigrating), at: new Date().toISOString() });
});

// The platform's resource figures, which Crawlee's autoscaling reads.
Actor.on('systemInfo', (info) => {
    state.systemInfos = (state.systemInfos ?? 0) + 1;
    state.lastSystemInfo = info;
    if (state.systemInfos === 1) console.log(`First systemInfo: ${JSON.stringify(info)}`);
});

await Actor.setStatusMessage('Working until aborted');
console.log('Working until aborted.');

// The work: a tick every 100 ms, forever.
setInterval(() => {
    state.ticks += 1;
}, 100);
