import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { FIXTURE_APP, killStarted, runCli, sandbox, type Finished } from './cli-harness.js';

const box = sandbox();
after(() => {
  killStarted();
  box.remove();
});

const NO_APP = fileURLToPath(new URL('./fixtures/no-app.ts', import.meta.url));
const STACK_LINE = /^\s+at /m;

/** The run failed with exactly one line on stderr, and it matches. */
function assertOneLineError(run: Finished, pattern: RegExp): void {
  assert.notEqual(run.code, 0, `expected a failure, got exit ${run.code}`);
  const lines = run.stderr.trimEnd().split('\n');
  assert.match(lines[0] ?? '', pattern);
  assert.doesNotMatch(run.stderr, STACK_LINE, 'no stack without --verbose');
  assert.ok(lines.length <= 2, `at most the error and a hint, got:\n${run.stderr}`);
}

describe('bad input gives one clear line and a non-zero exit', () => {
  it('a concurrency that is not a number', async () => {
    const run = await runCli(['worker', '-A', FIXTURE_APP, '-c', 'abc'], box.env);
    assertOneLineError(run, /^celeriac: CELERIAC_E_CONFIG option -c\/--concurrency must be a positive integer, got "abc"$/);
  });

  it('a zero prefetch multiplier', async () => {
    const run = await runCli(['worker', '-A', FIXTURE_APP, '--prefetch-multiplier', '0'], box.env);
    assertOneLineError(run, /^celeriac: CELERIAC_E_CONFIG option --prefetch-multiplier must be a positive integer, got "0"$/);
  });

  it('a log level that does not exist', async () => {
    const run = await runCli(['worker', '-A', FIXTURE_APP, '-l', 'loud'], box.env);
    assertOneLineError(run, /^celeriac: CELERIAC_E_CONFIG option -l\/--loglevel must be one of debug, info, warn, error, silent, got "loud"$/);
  });

  it('--args that are not JSON', async () => {
    const run = await runCli(['call', 'test.add', '--args', '[1,'], box.env);
    assertOneLineError(run, /^celeriac: CELERIAC_E_CONFIG option --args must be valid JSON, got "\[1,"/);
  });

  it('--kwargs that are not an object', async () => {
    const run = await runCli(['call', 'test.add', '--kwargs', '[1]'], box.env);
    assertOneLineError(run, /^celeriac: CELERIAC_E_CONFIG option --kwargs must be a JSON object/);
  });

  it('a broker URL with an unknown scheme', async () => {
    const run = await runCli(['purge', '-f', '-b', 'nope://host'], box.env);
    assertOneLineError(run, /^celeriac: CELERIAC_E_UNKNOWN_SCHEME no adapter handles the scheme "nope"/);
  });

  it('an app module that does not exist', async () => {
    const run = await runCli(['worker', '-A', 'no/such/app.ts'], box.env);
    assertOneLineError(run, /^celeriac: CELERIAC_E_CONFIG option -A\/--app: no file "no\/such\/app.ts"/);
  });

  it('an app module that exports no App', async () => {
    const run = await runCli(['worker', '-A', NO_APP], box.env);
    assertOneLineError(run, /^celeriac: CELERIAC_E_CONFIG the app module .* must export an App instance as "app" or as its default export; it exports: notAnApp$/);
  });

  it('an unknown option, in the same form', async () => {
    const run = await runCli(['purge', '--everything'], box.env);
    assertOneLineError(run, /^celeriac: unknown option '--everything'/);
  });

  it('a missing required option', async () => {
    const run = await runCli(['worker'], box.env);
    assertOneLineError(run, /^celeriac: required option '-A, --app <module>' not specified$/);
  });

  it('--verbose adds the stack', async () => {
    const run = await runCli(['--verbose', 'worker', '-A', FIXTURE_APP, '-c', '-1'], box.env);
    assert.notEqual(run.code, 0);
    assert.match(run.stderr, /^celeriac: CELERIAC_E_CONFIG option -c\/--concurrency must be a positive integer, got "-1"$/m);
    assert.match(run.stderr, STACK_LINE);
  });
});
