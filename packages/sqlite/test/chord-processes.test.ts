/**
 * Chord counting across processes sharing one file: four processes add the parts of many chords,
 * all working on the same chord at the same moment (fixtures/chord-parts.ts); every chord is completed by exactly one addPart() in one process, with its
 * results in group-index order, and no bookkeeping is left behind.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { it } from 'node:test';
import Database from 'better-sqlite3';
import { silentLogger } from '@celeriac/core';
import { SqliteBackend } from '@celeriac/sqlite';
import { exited, startFixture } from './child-processes.js';
import { tempDir } from './temp-db.js';

const PROCESSES = 4;
const CHORDS = 60;
const SIZE = 8;

it('four processes racing on the same chords: each completes exactly once, in order', { timeout: 120_000 }, async () => {
  const path = join(tempDir('chord-processes'), 'chords.db');
  const setup = new SqliteBackend({ path, logger: silentLogger });
  // Half the chords get their size before the parts, half while their parts are arriving.
  for (let c = 0; c < CHORDS; c += 2) await setup.chords.setSize(`chord-${c}`, SIZE);
  const completions: { groupId: string; results: unknown[]; count: number }[] = [];
  let ready = 0;
  let allReady!: () => void;
  const started = new Promise<void>((resolve) => (allReady = resolve));
  const children = Array.from({ length: PROCESSES }, (_, p) =>
    startFixture('chord-parts.ts', [path, String(p), String(PROCESSES), String(CHORDS), String(SIZE)], (line) => {
      if (line === 'ready') {
        if (++ready === PROCESSES) allReady();
      } else {
        completions.push(JSON.parse(line) as (typeof completions)[number]);
      }
    }),
  );
  await started;
  const start = Date.now() + 200;
  for (const child of children) child.stdin.end(`${start}\n`);
  // The odd chords' sizes are set in their chord's time slot, racing with their parts.
  for (let c = 1; c < CHORDS; c += 2) {
    const wait = start + c * 10 - Date.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    await setup.chords.setSize(`chord-${c}`, SIZE);
  }
  for (const child of children) assert.equal(await exited(child), 0, 'a child process failed');

  // A chord whose last part came before its size never completes (as in Celery, where the size
  // is always set before the header is sent); only the odd chords may be left so.
  const byChord = new Map<string, number>();
  for (const { groupId } of completions) byChord.set(groupId, (byChord.get(groupId) ?? 0) + 1);
  const twice = [...byChord].filter(([, n]) => n > 1);
  assert.deepEqual(twice, [], 'chords completed more than once');
  for (const done of completions) {
    assert.equal(done.count, SIZE);
    assert.deepEqual(done.results, Array.from({ length: SIZE }, (_, i) => i), `results of ${done.groupId} in group-index order`);
  }
  assert.ok(completions.length >= CHORDS / 2, `only ${completions.length} chords completed`);
  for (let c = 0; c < CHORDS; c++) {
    if (byChord.has(`chord-${c}`)) continue;
    assert.equal(c % 2, 1, `chord-${c} had its size from the start and never completed`);
  }
  await setup.close();

  const db = new Database(path, { readonly: true });
  try {
    const left = db.prepare(`SELECT count(*) FROM celeriac_chords`).pluck().get() as number;
    const parts = db.prepare(`SELECT count(*) FROM celeriac_chord_parts`).pluck().get() as number;
    const incomplete = CHORDS - completions.length;
    assert.equal(left, incomplete, 'bookkeeping left for completed chords');
    assert.equal(parts, incomplete * SIZE);
  } finally {
    db.close();
  }
});
