/**
 * Parsers for option values. Each throws a ConfigError naming the option, what it expects and what
 * it got, so a bad value fails before anything connects (`-c abc` → CELERIAC_E_CONFIG ...).
 */
import { ConfigError, isLogLevel, type LogLevel } from '@celeriac/core';

type Parser<T> = (value: string) => T;

export function positiveInt(flag: string): Parser<number> {
  return (value) => {
    const n = Number(value);
    if (!/^\s*\d+\s*$/.test(value) || !Number.isSafeInteger(n) || n < 1) {
      throw new ConfigError(`option ${flag} must be a positive integer, got ${JSON.stringify(value)}`);
    }
    return n;
  };
}

/** A number of seconds, 0 allowed. */
export function seconds(flag: string): Parser<number> {
  return (value) => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n) || n < 0) {
      throw new ConfigError(`option ${flag} must be a non-negative number of seconds, got ${JSON.stringify(value)}`);
    }
    return n;
  };
}

/** `a,b , c` → `['a', 'b', 'c']`; empty names are an error. */
export function queueList(flag: string): Parser<string[]> {
  return (value) => {
    const names = value.split(',').map((q) => q.trim());
    if (names.some((q) => q === '')) throw new ConfigError(`option ${flag} must be comma-separated queue names, got ${JSON.stringify(value)}`);
    return names;
  };
}

export function logLevel(flag: string): Parser<LogLevel> {
  return (value) => {
    const level = value.toLowerCase() === 'warning' ? 'warn' : value.toLowerCase();
    if (!isLogLevel(level)) throw new ConfigError(`option ${flag} must be one of debug, info, warn, error, silent, got ${JSON.stringify(value)}`);
    return level;
  };
}

export function jsonArray(flag: string): Parser<unknown[]> {
  return (value) => {
    const parsed = parseJson(flag, value);
    if (!Array.isArray(parsed)) throw new ConfigError(`option ${flag} must be a JSON array such as '[1, 2]', got ${JSON.stringify(value)}`);
    return parsed;
  };
}

export function jsonObject(flag: string): Parser<Record<string, unknown>> {
  return (value) => {
    const parsed = parseJson(flag, value);
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new ConfigError(`option ${flag} must be a JSON object such as '{"x": 1}', got ${JSON.stringify(value)}`);
    }
    return parsed as Record<string, unknown>;
  };
}

function parseJson(flag: string, value: string): unknown {
  try {
    return JSON.parse(value) as unknown;
  } catch (cause) {
    throw new ConfigError(`option ${flag} must be valid JSON, got ${JSON.stringify(value)} (${(cause as Error).message})`, { cause });
  }
}
