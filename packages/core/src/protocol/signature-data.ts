/**
 * A signature as Celery serialises it: plain JSON data naming a task, its arguments and its
 * `apply_async` options. Carried in a task message's `embed` (callbacks, errbacks, chain, chord).
 */
export interface SignatureData {
  readonly task: string;
  readonly args?: readonly unknown[];
  readonly kwargs?: Readonly<Record<string, unknown>>;
  readonly options?: Readonly<Record<string, unknown>>;
  /** `null` for a plain task; `"chain" | "group" | "chord"` for composites. */
  readonly subtask_type?: string | null;
  /** When true the parent's result is not prepended to `args`. */
  readonly immutable?: boolean;
  [key: string]: unknown;
}

/** The third element of a task message body. Each field may be null (and the whole may be `{}`). */
export interface Embed {
  callbacks: SignatureData[] | null;
  errbacks: SignatureData[] | null;
  chain: SignatureData[] | null;
  chord: SignatureData | null;
}

export function emptyEmbed(): Embed {
  return { callbacks: null, errbacks: null, chain: null, chord: null };
}
