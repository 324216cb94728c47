/**
 * Group view ids (Spread's group_id: memb_id.proc_id, memb_id.time, index).
 *
 * A view id must name one view only, and every daemon that holds the view must name it alike, so
 * an id is computed only from what the daemons holding the view agree on: ring ids, which EVS
 * delivers in the same order to every member of a configuration, and the order of the requests.
 * Three kinds of base (proc_id, time) are used, each with the index counting the views under it:
 * - a regular ring (rep, seq): views of a regular configuration whose views are agreed;
 * - a transitional configuration: the old ring's representative, with the old ring and the next
 *   ring mixed into the time field (index counts down from -1);
 * - a lineage: the views of daemons whose group state exchange was abandoned are agreed only
 *   among the daemons that held the same state before it and go on into the same configuration;
 *   the base mixes the state they held before with the ring of the exchange and the next ring.
 * Mixed fields are a 32-bit hash each (MurmurHash3's mixing steps over 32-bit words), so two
 * different histories share a base with probability about 2^-64 (2^-32 for transitional views,
 * whose proc_id is the old representative itself).
 */
import type { RingId } from '../util/ids.js';
import type { GroupId } from '../session/codec.js';

/** The (proc_id, time) part of a group id. */
export interface ViewBase {
  readonly procId: number;
  readonly time: number;
}

const SEED_PROC = 0x52434731; // two independent seeds: the two words of a base
const SEED_TIME = 0x7f4a7c15;

function mixWord(h: number, word: number): number {
  let k = Math.imul(word | 0, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  k = Math.imul(k, 0x1b873593);
  let x = h ^ k;
  x = (x << 13) | (x >>> 19);
  return (Math.imul(x, 5) + 0xe6546b64) | 0;
}

function finish(h: number, words: number): number {
  let x = h ^ (words * 4);
  x ^= x >>> 16;
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  x ^= x >>> 16;
  return x | 0;
}

function hashWords(seed: number, words: readonly number[]): number {
  let h = seed;
  for (const w of words) h = mixWord(h, w);
  return finish(h, words.length);
}

/** A ring id as 32-bit words; seq may exceed 32 bits (it is a safe integer). */
function ringWords(r: RingId): number[] {
  return [r.rep | 0, Math.floor(r.seq / 0x1_0000_0000) | 0, r.seq | 0];
}

/** Id of a view of a regular configuration with agreed views: (ring, index), as Spread's. */
export function regularGid(ring: RingId, index: number): GroupId {
  return { procId: ring.rep | 0, time: ring.seq | 0, index };
}

/**
 * Id of a view formed inside the transitional configuration from `previous` into `next`. Several
 * transitional configurations (one per old ring merging) lead into one next ring; the old ring
 * tells them apart (a daemon is in one old ring only), the next ring tells one old ring's sides
 * apart, and the negative index keeps them apart from the next ring's regular views.
 */
export function transitionalGid(previous: RingId, next: RingId, index: number): GroupId {
  return { procId: previous.rep | 0, time: hashWords(SEED_TIME, [...ringWords(next), previous.seq | 0, Math.floor(previous.seq / 0x1_0000_0000) | 0]), index };
}

/** The lineage of a daemon whose views were agreed in regular ring `ring`. */
export function ringLineage(ring: RingId): ViewBase {
  const w = ringWords(ring);
  return { procId: hashWords(SEED_PROC, w), time: hashWords(SEED_TIME, w) };
}

/**
 * The lineage after an exchange in `exchangeRing` was abandoned for the configuration `next`:
 * the daemons that held `before` and go on into `next` together delivered the same events of
 * `exchangeRing` (EVS), so they hold the same views, and no other daemon does.
 */
export function nextLineage(before: ViewBase, exchangeRing: RingId, next: RingId): ViewBase {
  const w = [before.procId | 0, before.time | 0, ...ringWords(exchangeRing), ...ringWords(next)];
  return { procId: hashWords(SEED_PROC, w), time: hashWords(SEED_TIME, w) };
}

export function hasBase(gid: GroupId, base: ViewBase): boolean {
  return gid.procId === base.procId && gid.time === base.time;
}
