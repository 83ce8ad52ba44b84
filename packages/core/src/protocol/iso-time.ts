/**
 * Timestamps as Celery writes and reads them. We emit exactly what Python's `isoformat()` gives for
 * an aware UTC datetime, `YYYY-MM-DDTHH:MM:SS.ffffff+00:00`: Celery 5.2 reads the fraction as an
 * integer count of microseconds (so JavaScript's `.123Z` would mean 123 µs there) and 5.3.0–5.3.4
 * reject `Z`. We read every variant: `Z`, `±HH:MM`, `±HHMM`, any fraction length, and naive values,
 * which Celery interprets in the app time zone (UTC by default).
 */

const ISO_RE =
  /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?\s*(Z|z|[+-]\d{2}(?::?\d{2})?)?$/;

/** Formats a date as `YYYY-MM-DDTHH:MM:SS.ffffff+00:00` (UTC, six fraction digits). */
export function formatIsoUtc(date: Date): string {
  const ms = date.getTime();
  if (!Number.isFinite(ms)) throw new RangeError('formatIsoUtc: invalid date');
  const base = date.toISOString(); // YYYY-MM-DDTHH:MM:SS.mmmZ
  return `${base.slice(0, 23)}000+00:00`;
}

/** Formats a date the way Celery 5.2 writes `date_done`: naive UTC, six fraction digits. */
export function formatIsoNaiveUtc(date: Date): string {
  return formatIsoUtc(date).slice(0, 26);
}

/**
 * Parses an ISO-8601 timestamp into a Date (millisecond precision; finer digits are truncated).
 * Returns null when the text is not a timestamp, so callers can say which field was bad.
 */
export function parseIso(text: string): Date | null {
  const m = ISO_RE.exec(text.trim());
  if (!m) return null;
  const [, y, mo, d, h, mi, s, frac, tz] = m;
  const millis = frac ? Number((frac + '00').slice(0, 3)) : 0;
  let t = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s ?? 0), millis);
  if (tz && tz !== 'Z' && tz !== 'z') {
    const sign = tz[0] === '-' ? -1 : 1;
    const digits = tz.slice(1).replace(':', '');
    const offMin = Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2, 4) || 0);
    t -= sign * offMin * 60_000;
  }
  const date = new Date(t);
  return Number.isNaN(date.getTime()) ? null : date;
}
