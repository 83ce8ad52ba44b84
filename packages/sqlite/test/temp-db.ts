/**
 * A temporary directory per test file for SQLite databases, removed when the file's tests end.
 * Tests never touch ./celeriac.db.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';

export function tempDir(label: string): string {
  const dir = mkdtempSync(join(tmpdir(), `celeriac-sqlite-${label}-`));
  after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}
