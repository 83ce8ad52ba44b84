/**
 * The instruction-count tool (src/profile/instructions.ts) refuses what it cannot run, saying how
 * to call it. (A measuring run takes a minute or two under valgrind: run by hand, not here.)
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { it } from 'node:test';

const TOOL = fileURLToPath(new URL('../src/profile/instructions.ts', import.meta.url));
const run = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', TOOL, ...args], { encoding: 'utf8' });

it('names its usage for a side it does not know, and checks its round-trip window', () => {
  const bad = run('both');
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr, /usage: npm run profile --workspace bench -- worker\|client/);
  const backwards = run('worker', '--from', '500', '--to', '100');
  assert.notEqual(backwards.status, 0);
  assert.match(backwards.stderr, /--to \(100\) must come after --from \(500\)/);
});
