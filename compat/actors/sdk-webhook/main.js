// Asks for a webhook on its own run's success, twice with the same
// idempotency key: the platform keeps one webhook.
import { Actor } from 'apify';

await Actor.init();

const { url, key } = await Actor.getInput();
const options = {
    eventTypes: ['ACTOR.RUN.SUCCEEDED'],
    requestUrl: url,
    payloadTemplate: '{"runId": {{resource.id}}, "status": {{resource.status}}, "eventType": {{eventType}}}',
    idempotencyKey: key,
};
const first = await Actor.addWebhook(options);
const second = await Actor.addWebhook(options);
console.log(`Webhook ${first.id}, again ${second.id}.`);
await Actor.setValue('OUTPUT', { first: first.id, second: second.id });
await Actor.exit('webhook added');
