/**
 * A child process for broker-crash.test.ts: consumes `<queue>` from `<url>` with prefetch
 * `<count>`, never settles anything, and prints `holding <tag> <tag> ...` once it holds `<count>`
 * messages. The test then kills it with SIGKILL.
 */
import { silentLogger } from '@celeriac/core';
import { RedisBroker } from '@celeriac/redis';

const [url, queue, countText] = process.argv.slice(2);
const count = Number(countText);
const broker = new RedisBroker({ url: url!, logger: silentLogger });
const tags: string[] = [];
await broker.consume([queue!], (delivery) => {
  tags.push(delivery.deliveryTag);
  if (tags.length === count) process.stdout.write(`holding ${tags.join(' ')}\n`);
}, { prefetch: count });
