/**
 * Timestamps as Celery writes and reads them. We emit what Python's `isoformat()` gives for an
 * aware UTC datetime, `YYYY-MM-DDTHH:MM:SS.ffffff+00:00`, except that we keep `.000000` where
 * Python drops a zero fraction (every Celery parser reads both). Celery 5.2 reads the fraction as
 * an integer count of microseconds (so JavaScript's `.123Z` would mean 123 µs there) and
 * 5.3.0–5.3.4 reject `Z`. We read every variant: `Z`, `±HH:MM`, `±HHMM`, any fraction length,
 * date-only and naive values, which Celery interprets in the app time zone (UTC by default). A
 * fraction is read as a decimal fraction (`.123` = 123 ms), as `datetime.fromisoformat` does.
 * What Python does with each case: test/fixtures/celery-5.2/iso-times.json.
 */

const ISO_RE =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?\s*(Z|z|[+-]\d{2}(?::?\d{2})?)?)?$/;

/**
 * The last instant formatted, and its text: a worker stamps every result's `date_done`, and the
 * results of one burst mostly share a millisecond (formatting was ~3% of a no-op task's CPU).
 */
let lastMs = NaN;
let lastText = '';
let lastNaiveMs = NaN;
let lastNaiveText = '';

/** Formats a date as `YYYY-MM-DDTHH:MM:SS.ffffff+00:00` (UTC, six fraction digits). */
export function formatIsoUtc(date: Date): string {
  const ms = date.getTime();
  if (ms === lastMs) return lastText;
  if (!Number.isFinite(ms)) throw new RangeError('formatIsoUtc: invalid date');
  const base = date.toISOString(); // YYYY-MM-DDTHH:MM:SS.mmmZ
  lastText = `${base.slice(0, 23)}000+00:00`;
  lastMs = ms;
  return lastText;
}

/** Formats a date the way Celery 5.2 writes `date_done`: naive UTC, six fraction digits. */
export function formatIsoNaiveUtc(date: Date): string {
  const ms = date.getTime();
  if (ms === lastNaiveMs) return lastNaiveText;
  lastNaiveText = formatIsoUtc(date).slice(0, 26);
  lastNaiveMs = ms;
  return lastNaiveText;
}

/**
 * Parses an ISO-8601 timestamp into a Date (millisecond precision; finer digits round up, so an
 * `eta` is never read as earlier than it is).
 * Returns null when the text is not a timestamp, so callers can say which field was bad.
 */
export function parseIso(text: string): Date | null {
  const m = ISO_RE.exec(text.trim());
  if (!m) return null;
  const [, y, mo, d, h, mi, s, frac, tz] = m;
  const fields = [Number(y), Number(mo) - 1, Number(d), Number(h ?? 0), Number(mi ?? 0), Number(s ?? 0)] as const;
  // Round sub-millisecond digits up: a task must not start before its eta, even by 1 µs.
  const millis = frac ? Number((frac + '00').slice(0, 3)) + (/[1-9]/.test(frac.slice(3)) ? 1 : 0) : 0;
  let t = Date.UTC(...fields, millis);
  // Date.UTC rolls over out-of-range fields (month 13, Feb 30, 24:00, second 60); Python rejects them.
  const check = new Date(t);
  const actual = [
    check.getUTCFullYear(), check.getUTCMonth(), check.getUTCDate(),
    check.getUTCHours(), check.getUTCMinutes(), check.getUTCSeconds(),
  ];
  if (actual.some((v, i) => v !== fields[i])) return null;
  if (tz && tz !== 'Z' && tz !== 'z') {
    const sign = tz[0] === '-' ? -1 : 1;
    const digits = tz.slice(1).replace(':', '');
    const offMin = Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2, 4) || 0);
    if (offMin >= 24 * 60) return null;
    t -= sign * offMin * 60_000;
  }
  const date = new Date(t);
  return Number.isNaN(date.getTime()) ? null : date;
}
