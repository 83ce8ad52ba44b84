/**
 * Every contestant the bench knows, in the order rows are printed (the first is the baseline the
 * ratios refer to). A peer is added here: see README.md, "Adding a contestant".
 */
import { celeriacContestant } from './celeriac/celeriac-contestant.js';
import { memoryStore, sqliteStore } from './celeriac/celeriac-stores.js';
import type { Contestant } from './contestant.js';

export interface ContestantOptions {
  readonly cpuProfileDir: string | null;
}

export function allContestants(options: ContestantOptions): Contestant[] {
  return [
    celeriacContestant(sqliteStore(options.cpuProfileDir ? { cpuProfileDir: options.cpuProfileDir } : {})),
    celeriacContestant(memoryStore()),
  ];
}

/** The contestants named in `only` (all when null), or an error naming the unknown ones. */
export function selectContestants(all: readonly Contestant[], only: readonly string[] | null): Contestant[] {
  if (!only) return [...all];
  const unknown = only.filter((name) => !all.some((c) => c.name === name));
  if (unknown.length) throw new Error(`unknown contestant(s) ${unknown.join(', ')}; known: ${all.map((c) => c.name).join(', ')}`);
  return only.map((name) => all.find((c) => c.name === name)!);
}
