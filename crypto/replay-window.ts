/**
 * Anti-replay sliding window over a 64-bit packet counter, after RFC 6479 ("IPsec Anti-Replay
 * Algorithm without Bit Shifting"): a ring of 32-bit blocks indexed by counter bits, where moving
 * the window forward clears whole blocks instead of shifting the bitmap.
 *
 * With 256 blocks of 32 bits (8,192 bits) the window covers the highest counter accepted and the
 * REPLAY_WINDOW_PACKETS − 1 below it: 8,160 packets, more than WireGuard's 8,128. The block holding
 * the highest counter is only partly inside the window, so one block's worth of bits is not usable.
 *
 * The caller checks (`check`) and records (`accept`) only after the packet's tag has verified, so
 * forged packets can neither advance the window nor mark counters as seen.
 */

const BLOCK_BITS = 32;
const BLOCKS = 256;
const BITMAP_BITS = BLOCK_BITS * BLOCKS;
/** Counters accepted: top and the REPLAY_WINDOW_PACKETS − 1 before it. */
export const REPLAY_WINDOW_PACKETS = BITMAP_BITS - BLOCK_BITS;

const WINDOW_BIG = BigInt(REPLAY_WINDOW_PACKETS);
const BITMAP_MASK = BigInt(BITMAP_BITS - 1);
const BLOCK_SHIFT = 5n;
const BLOCKS_BIG = BigInt(BLOCKS);

export type ReplayVerdict = 'fresh' | 'replay' | 'too-old';

export class ReplayWindow {
  readonly #bitmap = new Uint32Array(BLOCKS);
  /** Highest counter accepted, or -1 before the first one. */
  #top = -1n;

  get highest(): bigint | undefined {
    return this.#top < 0n ? undefined : this.#top;
  }

  /** Would this counter be accepted? Does not change the window. */
  check(counter: bigint): ReplayVerdict {
    if (counter > this.#top) return 'fresh';
    if (this.#top - counter >= WINDOW_BIG) return 'too-old';
    const bit = Number(counter & BITMAP_MASK);
    return (this.#bitmap[bit >>> 5]! & (1 << (bit & 31))) !== 0 ? 'replay' : 'fresh';
  }

  /** Records a counter; returns false (and changes nothing) unless check() says 'fresh'. */
  accept(counter: bigint): boolean {
    if (this.check(counter) !== 'fresh') return false;
    if (counter > this.#top) {
      // RFC 6479 §2: clear the blocks the window slides over, at most the whole bitmap.
      const topBlock = this.#top < 0n ? -1n : this.#top >> BLOCK_SHIFT;
      const newBlock = counter >> BLOCK_SHIFT;
      const advance = newBlock - topBlock;
      if (advance >= BLOCKS_BIG || this.#top < 0n) {
        this.#bitmap.fill(0);
      } else {
        const steps = Number(advance);
        let index = Number(topBlock % BLOCKS_BIG);
        for (let i = 0; i < steps; i++) {
          index = (index + 1) % BLOCKS;
          this.#bitmap[index] = 0;
        }
      }
      this.#top = counter;
    }
    const bit = Number(counter & BITMAP_MASK);
    this.#bitmap[bit >>> 5] = (this.#bitmap[bit >>> 5]! | (1 << (bit & 31))) >>> 0;
    return true;
  }
}
