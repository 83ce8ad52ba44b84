/**
 * The demo's own data: grid squares as GeoJSON in a `grid_squares` table of a SQLite file
 * (better-sqlite3). Keyed by (x, y) and written with an upsert, so a task that runs twice (a retry,
 * a redelivery after a crash) leaves one row, not two.
 */
import Database from 'better-sqlite3';
import type { GeoJsonPolygon } from './grid-square.js';

export class SquareStore {
  private readonly db: Database.Database;
  private readonly upsertStatement: Database.Statement<[number, number, string, string]>;

  constructor(path: string) {
    this.db = new Database(path, { timeout: 10_000 });
    // WAL: the producer can count rows while the worker writes.
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.exec(`CREATE TABLE IF NOT EXISTS grid_squares (
      x REAL NOT NULL,
      y REAL NOT NULL,
      geojson TEXT NOT NULL,
      task_id TEXT NOT NULL,
      PRIMARY KEY (x, y)
    )`);
    this.upsertStatement = this.db.prepare(`INSERT INTO grid_squares (x, y, geojson, task_id) VALUES (?, ?, ?, ?)
      ON CONFLICT (x, y) DO UPDATE SET geojson = excluded.geojson, task_id = excluded.task_id`);
  }

  upsert(x: number, y: number, square: GeoJsonPolygon, taskId: string): void {
    this.upsertStatement.run(x, y, JSON.stringify(square), taskId);
  }

  count(): number {
    return (this.db.prepare('SELECT count(*) AS n FROM grid_squares').get() as { n: number }).n;
  }

  close(): void {
    this.db.close();
  }
}
