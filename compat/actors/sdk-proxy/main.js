// Asks for proxy configurations the two ways an actor does: its own
// proxyUrls, and the platform's proxy (Apify Proxy on the hosted platform).
// OUTPUT records the URLs it was given, or the error it got.
import { Actor } from 'apify';

await Actor.init();
const { proxyUrls } = (await Actor.getInput()) ?? {};
const output = {};

const own = await Actor.createProxyConfiguration({ proxyUrls });
output.own = [await own.newUrl(), await own.newUrl()];

try {
    const platform = await Actor.createProxyConfiguration();
    output.platform = await platform.newUrl();
} catch (err) {
    output.platformError = err.message;
}

await Actor.setValue('OUTPUT', output);
await Actor.exit();
