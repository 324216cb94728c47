/**
 * scrypt off the event loop, with a bound on concurrent derivations. Uses Node's native scrypt
 * (RFC 7914, the same function as @noble/hashes' scrypt; a test checks they agree), which runs on
 * the libuv thread pool: the calling thread's event loop keeps turning while a derivation runs.
 * At most `concurrencyMax` derivations run at once (each holds 128·r·N bytes); up to `queueMax` wait;
 * beyond that derive() rejects at once, so a burst cannot pile up memory.
 */
import { scrypt } from 'node:crypto';
import { RingcastError } from '../../src/util/errors.js';
import type { DerivationRequest } from './password.js';
import { isWellFormedScryptParams, scryptMemoryBytes } from './scrypt-params.js';

export class ScryptBusyError extends RingcastError {
  constructor(message: string) {
    super('SCRYPT_BUSY', message);
    this.name = 'ScryptBusyError';
  }
}

export interface ScryptPoolOptions {
  /** Derivations running at once (default 2). */
  readonly concurrencyMax?: number;
  /** Derivations waiting for a slot (default 32). */
  readonly queueMax?: number;
}

export class ScryptPool {
  private readonly concurrencyMax: number;
  private readonly queueMax: number;
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(opts: ScryptPoolOptions = {}) {
    this.concurrencyMax = opts.concurrencyMax ?? 2;
    this.queueMax = opts.queueMax ?? 32;
    if (!(this.concurrencyMax >= 1) || !(this.queueMax >= 0)) throw new RangeError('concurrencyMax ≥ 1 and queueMax ≥ 0');
  }

  get runningCount(): number {
    return this.running;
  }

  get waitingCount(): number {
    return this.waiting.length;
  }

  /** scrypt(password, salt, params) → 32 bytes. */
  async derive(req: DerivationRequest): Promise<Uint8Array> {
    if (!isWellFormedScryptParams(req.params)) throw new RangeError('malformed scrypt parameters');
    if (this.running >= this.concurrencyMax) {
      if (this.waiting.length >= this.queueMax) {
        throw new ScryptBusyError(`${this.running} scrypt derivations running and ${this.waiting.length} waiting: try again later`);
      }
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else {
      this.running++;
    }
    const password = Buffer.from(req.password);
    try {
      return await new Promise<Uint8Array>((resolve, reject) => {
        const N = 2 ** req.params.logN;
        scrypt(password, req.salt, 32, { N, r: req.params.r, p: req.params.p, maxmem: scryptMemoryBytes(req.params) + 16 * 1024 * 1024 }, (err, key) => {
          if (err) reject(err);
          else resolve(new Uint8Array(key));
        });
      });
    } finally {
      password.fill(0);
      const next = this.waiting.shift();
      // The slot passes straight to the next waiter, so running never exceeds concurrencyMax.
      if (next) next();
      else this.running--;
    }
  }
}
