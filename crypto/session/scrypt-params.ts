/**
 * scrypt (RFC 7914) parameters of the password method.
 *
 * Production: N = 2^15, r = 8, p = 1. Memory is 128·r·N = 32 MiB and one derivation takes tens of
 * milliseconds natively: the cost RFC 7914 §2 suggests for interactive logins, and it makes every
 * guess of an offline attacker who stole the verifier file cost the same 32 MiB. The daemon never
 * runs scrypt during a login (only the client does, once per connection, and `ringcast passwd` once
 * per entry), so a flood of connection attempts cannot make the daemon spend memory on scrypt.
 */
export interface ScryptParams {
  /** log2 of the CPU/memory cost N. */
  readonly logN: number;
  /** Block size. */
  readonly r: number;
  /** Parallelism. */
  readonly p: number;
}

export const SCRYPT_PRODUCTION: ScryptParams = Object.freeze({ logN: 15, r: 8, p: 1 });

/**
 * The weakest parameters a client accepts from a daemon by default. A fake daemon that offered
 * weak parameters would get a proof it could brute-force cheaply, so the client refuses them.
 */
export const scryptClientMinimumDefault: ScryptParams = SCRYPT_PRODUCTION;
/** The most memory a client lets a daemon make it spend on one derivation. */
export const scryptMemoryBytesMaxDefault = 256 * 1024 * 1024;

export function scryptMemoryBytes(p: ScryptParams): number {
  return 128 * p.r * 2 ** p.logN;
}

/** Structural validity (independent of policy): what the wire and the verifier file can carry. */
export function isWellFormedScryptParams(p: ScryptParams): boolean {
  return (
    Number.isInteger(p.logN) && p.logN >= 1 && p.logN <= 30 &&
    Number.isInteger(p.r) && p.r >= 1 && p.r <= 255 &&
    Number.isInteger(p.p) && p.p >= 1 && p.p <= 255 &&
    p.r * p.p < 2 ** 30
  );
}

/** At least as costly as `min` in every dimension. */
export function scryptAtLeast(p: ScryptParams, min: ScryptParams): boolean {
  return p.logN >= min.logN && p.r >= min.r && p.p >= min.p;
}

export function formatScryptParams(p: ScryptParams): string {
  return `scrypt-N${p.logN}-r${p.r}-p${p.p}`;
}

export function parseScryptParams(s: string): ScryptParams | undefined {
  const m = /^scrypt-N(\d{1,2})-r(\d{1,3})-p(\d{1,3})$/.exec(s);
  if (!m) return undefined;
  const p = { logN: Number(m[1]), r: Number(m[2]), p: Number(m[3]) };
  return isWellFormedScryptParams(p) ? p : undefined;
}
