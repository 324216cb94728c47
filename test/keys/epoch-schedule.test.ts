import { beforeAll, describe, expect, it } from 'vitest';
import { PacketProtector, initCrypto } from '../../crypto/index.js';
import { sodiumInstance } from '../../crypto/init.js';
import { EPOCH_SCHEDULE_EPOCHS_MAX, EpochKeySchedule, generateDaemonIdentity, type DaemonIdentity, type DaemonPublicKey } from '../../keys/index.js';
import type { FormingMember } from '../../src/ring/types.js';
import { encodeToken, encodeData } from '../../src/ring/wire.js';
import type { DaemonId, RingId } from '../../src/util/ids.js';
import { computableDh, tryOpenSealed } from '../helpers/epoch-attack.js';

const CLUSTER = new Uint8Array(32).fill(7);
const CONFIG_HASH = 0x1234;

beforeAll(async () => {
  await initCrypto();
});

interface Node {
  id: DaemonId;
  identity: DaemonIdentity;
  protector: PacketProtector;
  schedule: EpochKeySchedule;
  /** Every random byte string the schedule drew (the test plays an attacker who learnt them). */
  drawn: Uint8Array[];
}

function seeded(n: number): Uint8Array {
  return new Uint8Array(32).fill(n);
}

function makeNodes(ids: DaemonId[], opts: { trusted?: (self: DaemonId) => DaemonId[]; rekeyMs?: number; rekeyPackets?: number } = {}): Node[] {
  const identities = new Map(ids.map((id) => [id, generateDaemonIdentity(seeded(id))]));
  return ids.map((id, i) => {
    const protector = new PacketProtector({ self: id, incarnation: 1000 + i, daemons: ids, mode: 'encrypt', clusterSecret: CLUSTER, epochsInstalledMax: EPOCH_SCHEDULE_EPOCHS_MAX });
    const trustedIds = opts.trusted?.(id) ?? ids;
    const trusted = new Map<DaemonId, DaemonPublicKey>(trustedIds.filter((t) => t !== id).map((t) => [t, identities.get(t)!.publicKey]));
    const drawn: Uint8Array[] = [];
    const schedule = new EpochKeySchedule({
      self: id,
      protector,
      clusterSecret: CLUSTER,
      configHash: CONFIG_HASH,
      identity: identities.get(id)!,
      trusted,
      randomBytes: (n) => {
        const b = sodiumInstance().randombytes_buf(n);
        drawn.push(b.slice());
        return b;
      },
      rekeyMs: opts.rekeyMs ?? 1000,
      rekeyPackets: opts.rekeyPackets ?? 1_000_000,
    });
    return { id, identity: identities.get(id)!, protector, schedule, drawn };
  });
}

/** The two commit-token rotations among `nodes` (the first is the representative). */
function form(nodes: Node[], seq: number): { ring: RingId; members: FormingMember[]; fields: Map<DaemonId, Uint8Array>; sealed: Map<DaemonId, Uint8Array>; accepted: boolean[] } {
  const ring: RingId = { rep: nodes[0]!.id, seq };
  const members = nodes.map((n) => ({ id: n.id, incarnation: 1 }));
  const first = new Map(nodes.map((n) => [n.id, n.schedule.contribute(0, ring, members)] as const));
  const d = nodes[0]!.schedule.distribute(0, ring, members, first);
  if (!d.ok) throw new Error(`distribute refused ${d.exclude.join(',')}`);
  const fields = new Map(members.map((m) => [m.id, d.fields?.get(m.id) ?? first.get(m.id)!] as const));
  const sealed = new Map(members.map((m) => [m.id, d.sealed.get(m.id) ?? new Uint8Array(0)] as const));
  const accepted = nodes.map((n) => n.schedule.accept(0, ring, members, fields, sealed.get(n.id)!));
  return { ring, members, fields, sealed, accepted };
}

describe('epoch key schedule', () => {
  it('every member of a forming configuration gets the same epoch secret; its packets open only there', () => {
    const [a, b, c, outsider] = makeNodes([11, 22, 33, 44]);
    const f = form([a!, b!, c!], 5);
    expect(f.accepted).toEqual([true, true, true]);
    const fp = (n: Node) => n.schedule.heldSecrets().filter((h) => h.generation === 0).map((h) => h.fingerprint);
    expect(fp(b!)).toEqual(fp(a!));
    expect(fp(c!)).toEqual(fp(a!));
    expect(a!.schedule.status(0).epochId).toBe(b!.schedule.status(0).epochId);
    const pkt = encodeData({ sender: 11, incarnation: 1, ring: f.ring, seq: 1, items: [{ service: 4, frag: 3, stream: 1, payload: new Uint8Array([1, 2, 3]) }], hasSafe: false });
    const sealed = a!.schedule.seal({ to: 'ring', bytes: pkt, epoch: { ring: f.ring, generation: 0 } })!;
    expect(b!.schedule.open(sealed, 11).ok).toBe(true);
    expect(c!.schedule.open(sealed, 11).ok).toBe(true);
    const r = outsider!.schedule.open(sealed, 11);
    expect(r.ok).toBe(false);
    // The sealed fields went only to members, and the outsider's ephemeral is in no transcript.
    expect(f.sealed.has(44)).toBe(false);
  });

  it('the wrap key needs the erased ephemeral-ephemeral DH: with it the copy opens (control); with every static secret it does not', () => {
    const [a, b] = makeNodes([11, 22]);
    const f = form([a!, b!], 5);
    const rec = { configHash: CONFIG_HASH, ring: f.ring, members: f.members, fields: f.fields, sealed: f.sealed };
    // Control: the representative's ephemeral secret (its first random draw) gives the key.
    const ephemeralSecret = a!.drawn[0]!;
    const ee = sodiumInstance().crypto_scalarmult(ephemeralSecret, f.fields.get(22)!.subarray(0, 32));
    const secret = tryOpenSealed(rec, CLUSTER, a!.identity, b!.identity, 22, [ee]);
    expect(secret).toBeDefined();
    // Everything computable from long-term secrets and the public values: nothing opens.
    const publics = [f.fields.get(11)!.subarray(0, 32), f.fields.get(22)!.subarray(0, 32), a!.identity.publicKey.x25519, b!.identity.publicKey.x25519];
    expect(tryOpenSealed(rec, CLUSTER, a!.identity, b!.identity, 22, computableDh([a!.identity.x25519Secret, b!.identity.x25519Secret], publics))).toBeUndefined();
  });

  it('refuses untrusted members and forged contributions at the representative, naming them', () => {
    const [a, b, c] = makeNodes([11, 22, 33], { trusted: (self) => (self === 11 ? [11, 22] : [11, 22, 33]) });
    const ring = { rep: 11, seq: 9 };
    const members = [11, 22, 33].map((id) => ({ id, incarnation: 1 }));
    const fields = new Map([a!, b!, c!].map((n) => [n.id, n.schedule.contribute(0, ring, members)] as const));
    expect(a!.schedule.distribute(0, ring, members, fields)).toEqual({ ok: false, exclude: [33] });
    const [x, y] = makeNodes([11, 22]);
    const ring2 = { rep: 11, seq: 10 };
    const m2 = [11, 22].map((id) => ({ id, incarnation: 1 }));
    const f2 = new Map([x!, y!].map((n) => [n.id, n.schedule.contribute(0, ring2, m2)] as const));
    const forged = f2.get(22)!.slice();
    forged[40]! ^= 1;
    f2.set(22, forged);
    expect(x!.schedule.distribute(0, ring2, m2, f2)).toEqual({ ok: false, exclude: [22] });
  });

  it('a member cannot open another member\'s sealed copy, and a tampered transcript is refused', () => {
    const [a, b, c] = makeNodes([11, 22, 33]);
    const ring = { rep: 11, seq: 12 };
    const members = [11, 22, 33].map((id) => ({ id, incarnation: 1 }));
    const first = new Map([a!, b!, c!].map((n) => [n.id, n.schedule.contribute(0, ring, members)] as const));
    const d = a!.schedule.distribute(0, ring, members, first);
    if (!d.ok) throw new Error('refused');
    const fields = new Map(members.map((m) => [m.id, d.fields!.get(m.id)!] as const));
    expect(b!.schedule.accept(0, ring, members, fields, d.sealed.get(33)!)).toBe(false);
    const tampered = new Map(fields);
    const t = tampered.get(33)!.slice();
    t[0]! ^= 1;
    tampered.set(33, t);
    expect(c!.schedule.accept(0, ring, members, tampered, d.sealed.get(33)!)).toBe(false);
  });

  it('rekeys in token order: the next generation is ready before the switch; older ones are erased one rotation later', () => {
    const [a, b] = makeNodes([11, 22], { rekeyMs: 100 });
    const f = form([a!, b!], 5);
    for (const n of [a!, b!]) n.schedule.installed(0, f.ring, { rep: 0, seq: 0 });
    expect(a!.schedule.rekeyDue(50, f.ring, 0)).toBe(false);
    expect(a!.schedule.rekeyDue(150, f.ring, 0)).toBe(true);
    a!.schedule.tokenGeneration(150, f.ring, 1);
    // b has not seen generation 1 yet, but holds it already: the representative's packets open.
    const tok = encodeToken({ ring: f.ring, tokenSeq: 1, seq: 0, aru: 0, aruId: undefined, fcc: 0, backlog: 0, rotation: 1, doneCount: 0, generation: 1, rtr: [] }, 11, 1);
    const sealed = a!.schedule.seal({ to: 22, bytes: tok, epoch: { ring: f.ring, generation: 1 } })!;
    expect(b!.schedule.open(sealed, 11).ok).toBe(true);
    b!.schedule.tokenGeneration(151, f.ring, 1);
    const gens = (n: Node) => n.schedule.heldSecrets().map((h) => h.generation).sort();
    expect(gens(a!)).toEqual([0, 1, 2]);
    a!.schedule.tokenGeneration(160, f.ring, 1);
    expect(gens(a!)).toEqual([1, 2]);
    expect(a!.schedule.status(160).rekeys).toBe(1);
    // Generation 0 is gone: its packets no longer open at a.
    const old = b!.schedule.seal({ to: 11, bytes: tok, epoch: { ring: f.ring, generation: 0 } })!;
    expect(a!.schedule.open(old, 22).ok).toBe(false);
    // A token claiming a generation far ahead is ignored (no unbounded derivation).
    a!.schedule.tokenGeneration(170, f.ring, 1_000_000);
    expect(gens(a!)).toEqual([1, 2]);
    // By packet count too.
    const [p, q] = makeNodes([11, 22], { rekeyPackets: 3 });
    const g = form([p!, q!], 6);
    p!.schedule.installed(0, g.ring, { rep: 0, seq: 0 });
    for (let i = 0; i < 3; i++) p!.schedule.seal({ to: 22, bytes: tok, epoch: { ring: g.ring, generation: 0 } });
    expect(p!.schedule.rekeyDue(0, g.ring, 0)).toBe(true);
  });

  it('erases the old configuration at installation and a given-up formation at once; recovered messages stay under old keys', () => {
    const [a, b, c] = makeNodes([11, 22, 33]);
    const f1 = form([a!, b!], 5);
    for (const n of [a!, b!]) n.schedule.installed(0, f1.ring, { rep: 0, seq: 0 });
    // Old-ring message sealed for recovery: b (old member) opens it, c (merging) cannot.
    const recovered = a!.schedule.sealRecovered(f1.ring, new Uint8Array([9, 9, 9]));
    const f2 = form([a!, b!, c!], 6);
    expect(f2.accepted).toEqual([true, true, true]);
    expect([...b!.schedule.openRecovered(f1.ring, 11, recovered)!]).toEqual([9, 9, 9]);
    expect(c!.schedule.openRecovered(f1.ring, 11, recovered)).toBeUndefined();
    const rings = (n: Node) => [...new Set(n.schedule.heldSecrets().map((h) => h.ring.seq))].sort();
    expect(rings(a!)).toEqual([5, 6]);
    a!.schedule.installed(0, f2.ring, f1.ring);
    expect(rings(a!)).toEqual([6]);
    // The configuration numbers differ, so the wire ids never collide.
    expect(a!.schedule.status(0).epochId >>> 8).not.toBe(0);
    // b never installed ring 6: a cascading change forms ring 7, which erases 6 when b accepts
    // it; then 7 is given up too, and b is left with the keys of the ring it has installed.
    const f3 = form([b!, c!], 7);
    expect(f3.accepted).toEqual([true, true]);
    expect(rings(b!)).toEqual([5, 7]);
    b!.schedule.abandon(f3.ring);
    expect(rings(b!)).toEqual([5]);
  });

  it('ring traffic under the cluster epoch and packets from untrusted daemons are refused', () => {
    const [a, b] = makeNodes([11, 22], { trusted: (self) => (self === 22 ? [22] : [11, 22]) });
    const tok = encodeToken({ ring: { rep: 11, seq: 1 }, tokenSeq: 1, seq: 0, aru: 0, aruId: undefined, fcc: 0, backlog: 0, rotation: 1, doneCount: 0, generation: 0, rtr: [] }, 11, 1);
    const underCluster = a!.schedule.seal({ to: 22, bytes: tok })!;
    const c = makeNodes([11, 22])[1]!;
    expect(c.schedule.open(underCluster, 11)).toEqual({ ok: false, reason: 'cluster-epoch' });
    expect(b!.schedule.open(underCluster, 11)).toEqual({ ok: false, reason: 'untrusted' });
  });
});
