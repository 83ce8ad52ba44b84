/**
 * A message as a row: RawMessage fields as columns (headers and properties as JSON text), and
 * back. Decoding never throws: a row whose JSON cannot be read (written by hand, by another tool,
 * or damaged) comes back as `malformed` with its raw text, for the broker to dead-letter.
 */
import type { RawMessage } from '@celeriac/core';

export interface MessageRow {
  id: number;
  queue: string;
  priority: number;
  redelivered: number;
  headers: string;
  properties: string;
  body: string;
  content_type: string;
  content_encoding: string;
}

/** The columns a published message fills. */
export interface MessageColumns {
  headers: string;
  properties: string;
  body: string;
  content_type: string;
  content_encoding: string;
}

export type DecodedRow =
  | { readonly ok: true; readonly message: RawMessage }
  | { readonly ok: false; readonly raw: string; readonly error: string };

export function toColumns(message: RawMessage): MessageColumns {
  return {
    headers: JSON.stringify(message.headers ?? {}),
    properties: JSON.stringify(message.properties ?? {}),
    body: message.body,
    content_type: message.contentType,
    content_encoding: message.contentEncoding,
  };
}

export function decodeRow(row: MessageRow): DecodedRow {
  try {
    const headers: unknown = JSON.parse(row.headers);
    const properties: unknown = JSON.parse(row.properties);
    if (!isRecord(headers) || !isRecord(properties)) throw new Error('headers and properties must be JSON objects');
    if (typeof row.body !== 'string' || typeof row.content_type !== 'string' || typeof row.content_encoding !== 'string') {
      throw new Error('body, content_type and content_encoding must be text');
    }
    return {
      ok: true,
      message: { headers, properties, body: row.body, contentType: row.content_type, contentEncoding: row.content_encoding },
    };
  } catch (err) {
    return { ok: false, raw: rawText(row), error: (err as Error).message };
  }
}

/** The row's columns as one JSON object of their raw values, so nothing is lost. */
function rawText(row: MessageRow): string {
  return JSON.stringify({
    headers: row.headers,
    properties: row.properties,
    body: row.body,
    content_type: row.content_type,
    content_encoding: row.content_encoding,
  });
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
