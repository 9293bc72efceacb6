// A Crawlee CheerioCrawler as the Apify templates write it: it follows the
// links of the start pages within the same host and stores every page's
// title and links.
import { Actor } from 'apify';
import { CheerioCrawler } from 'crawlee';

await Actor.init();

const { startUrls, maxRequestsPerCrawl } = await Actor.getInput();

const crawler = new CheerioCrawler({
    maxRequestsPerCrawl,
    async requestHandler({ request, $, enqueueLinks, log }) {
        const title = $('title').text();
        log.info(`${title}`, { url: request.loadedUrl });
        await enqueueLinks();
        await Actor.pushData({
            url: request.loadedUrl,
            title,
            links: $('a[href]').map((_, a) => $(a).attr('href')).get(),
        });
    },
});

await crawler.run(startUrls);

await Actor.exit();
