/**
 * A lifecycle is a string-union state changed in exactly one place, which logs `from -> to` and
 * refuses transitions that are not in the table.
 */
import { StateError } from './errors.js';
import type { Logger } from './logger.js';

export class Lifecycle<S extends string> {
  private current: S;
  constructor(
    private readonly name: string,
    initial: S,
    private readonly allowed: Readonly<Record<S, readonly S[]>>,
    private readonly logger: Logger,
  ) {
    this.current = initial;
  }

  get state(): S {
    return this.current;
  }

  is(...states: S[]): boolean {
    return states.includes(this.current);
  }

  set(to: S): void {
    const from = this.current;
    if (from === to) return;
    if (!this.allowed[from].includes(to)) throw new StateError(`${this.name} cannot go from ${from} to ${to}`);
    this.current = to;
    this.logger.debug(`${this.name}: ${from} -> ${to}`);
  }
}
