/**
 * A child process for broker-landing.test.ts: consumes `<queue>` from `<url>`, waiting idle, and
 * when a message lands prints `landed <tag>`, then never lets its event loop turn again (a busy
 * loop): the message stays in its landing list, neither acknowledged nor recorded in `unacked`.
 * The test then kills it with SIGKILL.
 */
import { silentLogger } from '@celeriac/core';
import { RedisBroker } from '@celeriac/redis';

const [url, queue] = process.argv.slice(2);
const broker = new RedisBroker({ url: url!, logger: silentLogger });
await broker.consume([queue!], (delivery) => {
  // A pipe's writes are synchronous on Linux: the line is out before the loop starts.
  process.stdout.write(`landed ${delivery.deliveryTag}\n`);
  for (;;) {
    // the process hangs here, as a worker frozen mid-turn would, until it is killed
  }
}, { prefetch: 4 });
process.stdout.write('waiting\n');
