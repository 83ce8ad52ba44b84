/**
 * The worker of instructions.ts: the bench app's worker (as celeriac-redis's row runs it, concurrency
 * 100) on `<url>`, until `<trips>` tasks have succeeded; then it shuts down and exits.
 * `argv: <url> <trips>`.
 */
import { Worker } from '@celeriac/core';
import { createBenchApp } from '../celeriac/bench-app.js';

const [url, tripsText] = process.argv.slice(2);
const trips = Number(tripsText);
if (!url || !(trips > 0)) throw new Error('usage: round-trip-worker.ts <url> <trips>');
const { app } = createBenchApp(url);
await app.connect();
const worker = Worker.create(app, { concurrency: 100 });
const running = worker.run();
const timer = setInterval(() => {
  if (worker.stats.succeeded < trips) return;
  clearInterval(timer);
  void worker.shutdown().then(() => running).then(() => app.close());
}, 20);
