/**
 * The tables celeriac keeps in a SQLite file. Every name starts with `celeriac_`, so the file can
 * hold an application's own tables too. `PRAGMA user_version` records the schema version; a file
 * written by a newer celeriac is refused rather than misread.
 *
 * A message row is in one of three states:
 * - READY (0): waiting; consumers take the highest priority, then the oldest id.
 * - DELAYED (1): waiting for `due_at` (countdown/ETA); becomes READY then.
 * - LEASED (2): delivered to `lease_owner` until `due_at`; the owner renews `due_at` while it lives.
 *   When a lease runs out the row is READY again with `redelivered = 1`.
 * Acknowledging deletes the row.
 *
 * Versions: 1 — messages, dead letters, results; 2 — saved groups and chord counting
 * (`celeriac_groups`, `celeriac_chords`, `celeriac_chord_parts`). Every statement is
 * `IF NOT EXISTS`, so running the whole script on a file of an older version upgrades it
 * (sqlite-connection.ts), and two processes doing so at once is harmless.
 */

export const SCHEMA_VERSION = 2;

export const MessageState = { READY: 0, DELAYED: 1, LEASED: 2 } as const;

export const SCHEMA_SQL = `
CREATE TABLE IF NOT EXISTS celeriac_messages (
  id               INTEGER PRIMARY KEY AUTOINCREMENT,
  queue            TEXT    NOT NULL,
  priority         INTEGER NOT NULL DEFAULT 0,
  state            INTEGER NOT NULL DEFAULT 0,
  due_at           INTEGER,
  lease_owner      TEXT,
  redelivered      INTEGER NOT NULL DEFAULT 0,
  headers          TEXT    NOT NULL,
  properties       TEXT    NOT NULL,
  body             TEXT    NOT NULL,
  content_type     TEXT    NOT NULL,
  content_encoding TEXT    NOT NULL,
  published_at     INTEGER NOT NULL
);
-- Taking: the ready rows of one queue in delivery order.
CREATE INDEX IF NOT EXISTS celeriac_messages_ready
  ON celeriac_messages (queue, priority DESC, id) WHERE state = 0;
-- Promoting: delayed rows that came due and leases that ran out.
CREATE INDEX IF NOT EXISTS celeriac_messages_due
  ON celeriac_messages (due_at) WHERE state <> 0;

CREATE TABLE IF NOT EXISTS celeriac_dead_letters (
  id                TEXT    PRIMARY KEY,
  queue             TEXT    NOT NULL,
  priority          INTEGER NOT NULL DEFAULT 0,
  reason_code       TEXT    NOT NULL,
  reason_message    TEXT    NOT NULL,
  dead_lettered_at  INTEGER NOT NULL,
  message           TEXT,
  raw               TEXT
);
CREATE INDEX IF NOT EXISTS celeriac_dead_letters_queue
  ON celeriac_dead_letters (queue, dead_lettered_at);

CREATE TABLE IF NOT EXISTS celeriac_results (
  task_id     TEXT    PRIMARY KEY,
  status      TEXT    NOT NULL,
  meta        TEXT    NOT NULL,
  expires_at  INTEGER,
  updated_at  INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS celeriac_results_expiry
  ON celeriac_results (expires_at) WHERE expires_at IS NOT NULL;

-- Saved group results (GroupResult.save()): the result tuple as JSON. Saving again replaces.
CREATE TABLE IF NOT EXISTS celeriac_groups (
  group_id    TEXT    PRIMARY KEY,
  result      TEXT    NOT NULL,
  expires_at  INTEGER
);
CREATE INDEX IF NOT EXISTS celeriac_groups_expiry
  ON celeriac_groups (expires_at) WHERE expires_at IS NOT NULL;

-- A chord being counted: its header size (NULL until setSize(); parts may come first), the
-- adjustment from adjustSize(), how many parts it has (always the number of its rows in
-- celeriac_chord_parts: both change in the same transactions), and one expiry for the chord and
-- all its parts. The row and its parts are deleted when the chord completes.
CREATE TABLE IF NOT EXISTS celeriac_chords (
  group_id    TEXT    PRIMARY KEY,
  size        INTEGER,
  adjustment  INTEGER NOT NULL DEFAULT 0,
  parts       INTEGER NOT NULL DEFAULT 0,
  expires_at  INTEGER
);
CREATE INDEX IF NOT EXISTS celeriac_chords_expiry
  ON celeriac_chords (expires_at) WHERE expires_at IS NOT NULL;

-- The finished header tasks of a chord, one row per task id (a repeated part is not counted
-- twice). seq keeps arrival order, for parts without a group index (NULL, sorted last).
CREATE TABLE IF NOT EXISTS celeriac_chord_parts (
  seq          INTEGER PRIMARY KEY AUTOINCREMENT,
  group_id     TEXT    NOT NULL,
  task_id      TEXT    NOT NULL,
  group_index  REAL,
  state        TEXT    NOT NULL,
  result       TEXT    NOT NULL,
  UNIQUE (group_id, task_id)
);
`;
