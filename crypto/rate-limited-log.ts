/**
 * A log that an attacker cannot flood: every key (for example "auth from daemon 7") may write at
 * most `burst` lines per `intervalMs`; lines beyond that are counted, and the count is reported
 * with the next line written for that key. The number of keys tracked is bounded, since keys
 * built from packet headers are attacker-chosen; keys beyond the bound share one overflow key.
 * Time comes from the injected clock (sans-IO).
 */
import { RingcastError } from '../src/util/errors.js';

export interface RateLimitedLogOptions {
  /** Monotonic milliseconds. */
  now: () => number;
  /** Where lines go (the daemon's log adapter). */
  write: (line: string) => void;
  /** Default 10,000 ms. */
  intervalMs?: number;
  /** Lines per key per interval. Default 5. */
  burst?: number;
  /** Distinct keys tracked at once. Default 256. */
  keysMax?: number;
}

interface KeyState {
  windowStartMs: number;
  written: number;
  suppressed: number;
}

export const OVERFLOW_KEY = '*';

export class RateLimitedLog {
  readonly #now: () => number;
  readonly #write: (line: string) => void;
  readonly #intervalMs: number;
  readonly #burst: number;
  readonly #keysMax: number;
  readonly #keys = new Map<string, KeyState>();

  constructor(options: RateLimitedLogOptions) {
    this.#now = options.now;
    this.#write = options.write;
    this.#intervalMs = options.intervalMs ?? 10_000;
    this.#burst = options.burst ?? 5;
    this.#keysMax = options.keysMax ?? 256;
    if (!(this.#intervalMs > 0) || !Number.isInteger(this.#burst) || this.#burst < 1 || !Number.isInteger(this.#keysMax) || this.#keysMax < 1) {
      throw new RingcastError('LOG_OPTION_INVALID', 'RateLimitedLog needs intervalMs > 0, an integer burst ≥ 1 and an integer keysMax ≥ 1');
    }
  }

  /** Writes the line unless this key is over its budget; returns whether it was written. */
  log(key: string, line: string): boolean {
    const now = this.#now();
    let k = key;
    let state = this.#keys.get(k);
    if (!state) {
      this.#expire(now);
      if (this.#keys.size >= this.#keysMax) k = OVERFLOW_KEY;
      state = this.#keys.get(k);
      if (!state) {
        state = { windowStartMs: now, written: 0, suppressed: 0 };
        this.#keys.set(k, state);
      }
    }
    if (now - state.windowStartMs >= this.#intervalMs) {
      state.windowStartMs = now;
      state.written = 0;
    }
    if (state.written >= this.#burst) {
      state.suppressed++;
      return false;
    }
    state.written++;
    const suffix = state.suppressed > 0 ? ` (${state.suppressed} similar line${state.suppressed === 1 ? '' : 's'} suppressed)` : '';
    state.suppressed = 0;
    this.#write(line + suffix);
    return true;
  }

  /** Lines suppressed and not yet reported, per key. */
  pendingSuppressed(): Map<string, number> {
    const out = new Map<string, number>();
    for (const [k, s] of this.#keys) if (s.suppressed > 0) out.set(k, s.suppressed);
    return out;
  }

  /** Drops keys idle for a whole interval with nothing left to report. */
  #expire(now: number): void {
    if (this.#keys.size < this.#keysMax) return;
    for (const [k, s] of this.#keys) {
      if (s.suppressed === 0 && now - s.windowStartMs >= this.#intervalMs) this.#keys.delete(k);
    }
  }
}
