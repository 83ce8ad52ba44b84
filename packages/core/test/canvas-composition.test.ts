/**
 * The composition rules table in docs/canvas.md, row by row: each "built" expression is evaluated
 * with celeriac's functions (letters are task signatures) and its structure compared with the
 * "gives" column. The table is the test's input, so the docs cannot drift from the code.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { chain, chord, group, isChain, isChord, isGroup, signature, type Signature } from '../src/index.js';

const doc = readFileSync(new URL('../../../docs/canvas.md', import.meta.url), 'utf8');
const section = doc.slice(doc.indexOf('## Composition rules'), doc.indexOf('## On the wire'));
const rows = [...section.matchAll(/^\| `([^`]+)` \| `([^`]+)` \|/gm)].map((m) => ({ built: m[1]!, gives: m[2]! }));

const letters = 'abcdefg'.split('');
const tasks = letters.map((l) => signature(l));

/** A signature's structure in the table's notation: `chain[a, b]`, `group[a, b]`, `chord[[a, b], c]`. */
function shape(sig: Signature): string {
  if (isChain(sig)) return `chain[${sig.kwargs.tasks.map(shape).join(', ')}]`;
  if (isGroup(sig)) return `group[${sig.kwargs.tasks.map(shape).join(', ')}]`;
  if (isChord(sig)) {
    const header = sig.kwargs.header;
    const members = Array.isArray(header) ? (header as Signature[]) : (header as unknown as { kwargs: { tasks: Signature[] } }).kwargs.tasks;
    return `chord[[${members.map(shape).join(', ')}], ${shape(sig.kwargs.body)}]`;
  }
  return sig.task;
}

describe('canvas composition rules (docs/canvas.md)', () => {
  it('the docs table has its rows', () => {
    assert.ok(rows.length >= 15, `found ${rows.length} rows`);
  });
  for (const { built, gives } of rows) {
    it(`${built} gives ${gives}`, () => {
      const build = new Function('chain', 'group', 'chord', ...letters, `return ${built};`) as (...args: unknown[]) => Signature;
      const sig = build(chain, group, chord, ...tasks);
      assert.equal(shape(sig), gives);
      // Built from data alone: a JSON round trip is the same signature.
      assert.deepEqual(JSON.parse(JSON.stringify(sig)), sig);
    });
  }
  it('builders leave their inputs alone', () => {
    const a = signature('a');
    const g = group(signature('b'), signature('c'));
    const before = JSON.stringify([a, g]);
    chain(a, g, signature('d'));
    chord(g, a);
    assert.equal(JSON.stringify([a, g]), before);
  });
});
