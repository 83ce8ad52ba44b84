/**
 * The raw amqplib row: the practical limit of a task queue on this RabbitMQ with amqplib. The
 * producer (this process) publishes N persistent messages to a durable queue on a confirm channel,
 * `batch` at a time (waiting for the confirms of each batch, as celeriac's bulk send does); the
 * consumer process (raw-consumer-child.ts) acknowledges each and publishes a reply to the
 * producer's exclusive reply queue; the clock stops at the N-th reply. No task protocol, no
 * result format, nothing but the AMQP work every row also does.
 */
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { connect } from 'amqplib';
import type { EndToEndFigures, ScenarioConfig } from '../contestant.js';
import { spawnWorkerProcess } from '../worker-process.js';
import { withVhost, type AmqpServer } from './amqp-server.js';
import { AMQP_DURABILITY, type AmqpRow } from './amqp-row.js';

const CHILD = fileURLToPath(new URL('./raw-consumer-child.ts', import.meta.url));
const QUEUE = 'bench';
/** About the size of a Celery task message's body with no arguments. */
const BODY = Buffer.from(JSON.stringify([[], {}, { callbacks: null, errbacks: null, chain: null, chord: null }]));

export function rawAmqpRow(server: AmqpServer): AmqpRow {
  return {
    name: 'raw-amqplib',
    traits: {
      store: `RabbitMQ ${server.version} (amqplib, no task protocol)`,
      resultsStored: 'a reply message per task to the producer\'s queue (as rpc://), confirmed only at the end',
      durability: AMQP_DURABILITY,
      acks: 'early',
      worker: 'separate process, basic.qos 4 × concurrency',
    },
    endToEnd: (config) => withVhost(server, 'raw', (url) => endToEnd(url, config)),
  };
}

async function endToEnd(url: string, config: ScenarioConfig): Promise<EndToEndFigures> {
  const conn = await connect(url);
  try {
    const publish = await conn.createConfirmChannel();
    await publish.assertQueue(QUEUE, { durable: true });
    const replies = await conn.createChannel();
    const { queue: replyQueue } = await replies.assertQueue('', { exclusive: true, autoDelete: true });
    let replied = 0;
    let allReplied!: () => void;
    const done = new Promise<void>((resolve) => (allReplied = resolve));
    await replies.consume(replyQueue, (msg) => msg && ++replied === config.tasks && allReplied(), { noAck: true });
    const worker = await spawnWorkerProcess(CHILD, [url, QUEUE, String(config.concurrency * 4)]);
    await worker.start();
    const start = performance.now();
    for (let i = 0; i < config.tasks; i += config.batch) {
      for (let j = i; j < Math.min(config.tasks, i + config.batch); j++) {
        if (!publish.publish('', QUEUE, BODY, { persistent: true, correlationId: String(j), replyTo: replyQueue, contentType: 'application/json' })) await once(publish, 'drain');
      }
      await publish.waitForConfirms();
    }
    await done;
    const ms = performance.now() - start;
    const counts = await worker.stop();
    return { tasks: config.tasks, ms, verified: replied, workerSucceeded: counts.succeeded, workerCpuMs: counts.cpuMs };
  } finally {
    await conn.close().catch(() => undefined);
  }
}
