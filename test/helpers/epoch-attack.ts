/**
 * What an attacker holding long-term key files can attempt on a recorded commit token: rebuild
 * a member's wrap key exactly as the key schedule does, with every Diffie-Hellman value it can
 * compute in place of the one it cannot (the ephemeral-ephemeral one). Tests use the same
 * reconstruction with a known ephemeral secret as the control that it works at all.
 */
import { sodiumInstance } from '../../crypto/init.js';
import { formationKeyFor, formationTranscript, openSealedEpoch, wrapKeyFor, type DaemonIdentity } from '../../keys/index.js';
import type { FormingMember } from '../../src/ring/types.js';
import type { DaemonId, RingId } from '../../src/util/ids.js';

export interface RecordedFormation {
  configHash: number;
  ring: RingId;
  members: readonly FormingMember[];
  /** Second-rotation fields (ephemeral public key ‖ configuration number). */
  fields: ReadonlyMap<DaemonId, Uint8Array>;
  sealed: ReadonlyMap<DaemonId, Uint8Array>;
}

/**
 * Tries to open member `j`'s sealed epoch secret. `ee` candidates stand in for DH(e_r, e_j); the
 * other two terms come from the representative's and the member's static secrets.
 */
export function tryOpenSealed(f: RecordedFormation, clusterSecret: Uint8Array, rep: DaemonIdentity, member: DaemonIdentity, j: DaemonId, eeCandidates: readonly Uint8Array[]): Uint8Array | undefined {
  const s = sodiumInstance();
  const F = formationKeyFor(clusterSecret, f.configHash);
  const T = formationTranscript(f.configHash, f.ring, f.members, f.fields);
  const ej = f.fields.get(j)!.subarray(0, 32);
  const er = f.fields.get(f.ring.rep)!.subarray(0, 32);
  const sealed = f.sealed.get(j)!;
  for (const ee of eeCandidates) {
    const key = wrapKeyFor(F, T, j, [ee.slice(), s.crypto_scalarmult(rep.x25519Secret, ej), s.crypto_scalarmult(member.x25519Secret, er)]);
    const opened = openSealedEpoch(key, T, sealed);
    if (opened) return opened.secret;
  }
  return undefined;
}

/** Every X25519 value computable from the given static secrets and the public keys seen. */
export function computableDh(secrets: readonly Uint8Array[], publics: readonly Uint8Array[]): Uint8Array[] {
  const s = sodiumInstance();
  const out: Uint8Array[] = [];
  for (const a of secrets) for (const p of publics) {
    try {
      out.push(s.crypto_scalarmult(a, p));
    } catch {
      // low-order point: nothing to compute
    }
  }
  return out;
}
