import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { killStarted, runCli, sandbox } from './cli-harness.js';

const box = sandbox();
after(() => {
  killStarted();
  box.remove();
});

describe('celeriac --help', () => {
  const commands = [
    [],
    ['worker'],
    ['call'],
    ['result'],
    ['purge'],
    ['dead-letters'],
    ['dead-letters', 'list'],
    ['dead-letters', 'replay'],
    ['dead-letters', 'delete'],
  ];
  for (const path of commands) {
    it(`prints usage for "${['celeriac', ...path].join(' ')}" and exits 0`, async () => {
      const run = await runCli([...path, '--help'], box.env);
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, new RegExp(`^Usage: ${['celeriac', ...path].join(' ')}\\b`, 'm'));
      assert.equal(run.stderr, '');
    });
  }

  it('lists the worker options the issue names', async () => {
    const run = await runCli(['worker', '--help'], box.env);
    for (const flag of ['-A, --app', '-Q, --queues', '-c, --concurrency', '-l, --loglevel', '-n, --hostname', '--prefetch-multiplier', '-b, --broker']) {
      assert.ok(run.stdout.includes(flag), `worker --help lacks ${flag}:\n${run.stdout}`);
    }
  });

  it('lists every command at the top level', async () => {
    const run = await runCli(['--help'], box.env);
    for (const name of ['worker', 'call', 'result', 'purge', 'dead-letters']) assert.match(run.stdout, new RegExp(`^  ${name}\\b`, 'm'));
  });
});
