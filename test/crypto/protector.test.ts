import { beforeAll, describe, expect, it } from 'vitest';
import {
  HEADER_BYTES,
  OPEN_FAILURE_REASONS,
  PacketProtector,
  REPLAY_WINDOW_PACKETS,
  TAG_BYTES,
  initCrypto,
  parseHeader,
} from '../../crypto/index.js';
import type { OpenResult } from '../../crypto/index.js';
import { RingcastError } from '../../src/util/errors.js';
import { A, ALL_CONFIGS, B, C, INCARNATION, OTHER_SECRET, SECRET, SECURE_CONFIGS, bytes, contains, pair } from './helpers.js';

beforeAll(async () => {
  await initCrypto();
});

function reason(r: OpenResult): string {
  return r.ok ? 'ok' : r.reason;
}

describe('round trip', () => {
  for (const { mode, suite } of ALL_CONFIGS) {
    it(`${mode}/${suite}: seals and opens payloads of every size class`, () => {
      const { a, b } = pair(mode, suite);
      for (const size of [0, 1, 15, 16, 17, 200, 1440, 2048, 2049, 8192, 32768, a.plaintextBytesMax]) {
        const pt = bytes(size, size + 1);
        const sealed = a.seal(pt);
        expect(sealed.length).toBe(size + a.overheadBytes);
        const r = b.open(sealed, A);
        expect(r.ok).toBe(true);
        if (!r.ok) continue;
        expect(Buffer.from(r.payload).equals(Buffer.from(pt))).toBe(true);
        expect(r.sender).toBe(A);
        expect(r.epoch).toBe(0);
      }
      expect(b.stats().opened).toBe(12);
      expect(a.stats().sealed).toBe(12);
    });
  }

  it('overhead is 32 bytes in encrypt and integrity modes and 16 in none', () => {
    expect(pair('encrypt', 'aes-256-gcm').a.overheadBytes).toBe(32);
    expect(pair('encrypt', 'chacha20-poly1305').a.overheadBytes).toBe(32);
    expect(pair('integrity', 'hmac-sha256').a.overheadBytes).toBe(32);
    expect(pair('none', 'none').a.overheadBytes).toBe(HEADER_BYTES);
    expect(HEADER_BYTES + TAG_BYTES).toBeLessThanOrEqual(32);
  });

  it('default suites are aes-256-gcm (encrypt) and hmac-sha256 (integrity)', () => {
    const base = { self: A, incarnation: INCARNATION, daemons: [A, B], clusterSecret: SECRET };
    expect(new PacketProtector({ ...base, mode: 'encrypt' }).suite).toBe('aes-256-gcm');
    expect(new PacketProtector({ ...base, mode: 'integrity' }).suite).toBe('hmac-sha256');
    expect(new PacketProtector({ ...base, mode: 'none' }).suite).toBe('none');
  });

  it('header carries version, mode, epoch, sender and counter in clear', () => {
    const { a } = pair('encrypt', 'aes-256-gcm');
    const h = parseHeader(a.seal(bytes(10)))!;
    expect(h.version).toBe(1);
    expect(h.modeCode).toBe(2);
    expect(h.epoch).toBe(0);
    expect(h.sender).toBe(A);
    expect(h.counter).toBe(BigInt(INCARNATION) << 22n);
    expect(parseHeader(a.seal(bytes(10)))!.counter).toBe((BigInt(INCARNATION) << 22n) + 1n);
  });
});

describe('tampering', () => {
  for (const { mode, suite } of SECURE_CONFIGS) {
    it(`${mode}/${suite}: every single-bit flip of a 200-byte-payload packet is rejected`, () => {
      const { a, b } = pair(mode, suite);
      const sealed = a.seal(bytes(200, 99));
      const seen = new Set<string>();
      for (let i = 0; i < sealed.length; i++) {
        for (let bit = 0; bit < 8; bit++) {
          const forged = sealed.slice();
          forged[i] = forged[i]! ^ (1 << bit);
          const r = b.open(forged, A);
          expect(r.ok, `byte ${i} bit ${bit}`).toBe(false);
          seen.add(reason(r));
        }
      }
      // Forgeries must not have touched the replay window: the genuine packet still opens, once.
      expect(b.open(sealed, A).ok).toBe(true);
      expect(reason(b.open(sealed, A))).toBe('replay');
      expect(seen.has('auth')).toBe(true);
      expect([...seen].every((x) => ['auth', 'version', 'mode', 'unknown-sender', 'unknown-epoch'].includes(x))).toBe(true);
    });
  }

  it('none mode: header checks still apply but the payload is not protected', () => {
    const { a, b } = pair('none', 'none');
    const sealed = a.seal(bytes(50));
    const altered = sealed.slice();
    altered[HEADER_BYTES + 3] = altered[HEADER_BYTES + 3]! ^ 1;
    expect(b.open(altered, A).ok).toBe(true);
    expect(reason(b.open(sealed, A))).toBe('replay');
    const badMode = sealed.slice();
    badMode[0] = 0x18; // version 1, mode encrypt
    expect(reason(b.open(badMode, A))).toBe('mode');
  });

  it('integrity mode: payload readable in the packet, and tamper-evident', () => {
    const { a, b } = pair('integrity', 'hmac-sha256');
    const pt = new TextEncoder().encode('membership: join from daemon 10.0.0.1, ring 42');
    const sealed = a.seal(pt);
    expect(contains(sealed, pt)).toBe(true);
    const altered = sealed.slice();
    altered[HEADER_BYTES] = altered[HEADER_BYTES]! ^ 0x20;
    expect(reason(b.open(altered, A))).toBe('auth');
    expect(b.open(sealed, A).ok).toBe(true);
  });

  it('encrypt mode: no 8-byte run of the plaintext appears in the sealed packet', () => {
    for (const suite of ['aes-256-gcm', 'chacha20-poly1305'] as const) {
      const { a } = pair('encrypt', suite);
      for (const size of [64, 4096]) {
        const pt = new Uint8Array(size).map((_, i) => 0x41 + (i % 26));
        const sealed = a.seal(pt);
        for (let i = 0; i + 8 <= pt.length; i += 8) expect(contains(sealed, pt.subarray(i, i + 8))).toBe(false);
      }
    }
  });
});

describe('rejection reasons', () => {
  it('wrong key ⇒ auth; wrong mode or suite ⇒ mode; wrong version ⇒ version', () => {
    const { a } = pair('encrypt', 'aes-256-gcm');
    const wrongKey = new PacketProtector({ self: B, incarnation: 7, daemons: [A, B], mode: 'encrypt', suite: 'aes-256-gcm', clusterSecret: OTHER_SECRET });
    const integrity = new PacketProtector({ self: B, incarnation: 7, daemons: [A, B], mode: 'integrity', clusterSecret: SECRET });
    const chacha = new PacketProtector({ self: B, incarnation: 7, daemons: [A, B], mode: 'encrypt', suite: 'chacha20-poly1305', clusterSecret: SECRET });
    const sealed = a.seal(bytes(100));
    expect(reason(wrongKey.open(sealed, A))).toBe('auth');
    expect(reason(integrity.open(sealed, A))).toBe('mode');
    expect(reason(chacha.open(sealed, A))).toBe('mode');
    for (const v of [0, 2, 15]) {
      const other = sealed.slice();
      other[0] = (v << 4) | (other[0]! & 0x0f);
      expect(reason(wrongKey.open(other, A))).toBe('version');
    }
    expect(wrongKey.stats().rejected.auth).toBe(1);
    expect(wrongKey.stats().rejected.version).toBe(3);
    expect(integrity.stats().rejected.mode).toBe(1);
  });

  it('explains mode mismatches and wrong keys differently for the log', () => {
    const { a } = pair('encrypt', 'aes-256-gcm');
    const integrity = new PacketProtector({ self: B, incarnation: 7, daemons: [A, B], mode: 'integrity', clusterSecret: SECRET });
    const sealed = a.seal(bytes(20));
    const modeLine = integrity.explainRejection('mode', sealed, A);
    expect(modeLine).toContain('encrypt/aes-256-gcm');
    expect(modeLine).toContain('integrity/hmac-sha256');
    const authLine = integrity.explainRejection('auth', sealed, A);
    expect(authLine).toContain('different cluster key');
    for (const r of OPEN_FAILURE_REASONS) {
      expect(integrity.explainRejection(r, new Uint8Array(3), A).length).toBeGreaterThan(10);
      expect(integrity.explainRejection(r, sealed, A).length).toBeGreaterThan(10);
    }
  });

  it('truncated and oversized packets', () => {
    for (const { mode, suite } of ALL_CONFIGS) {
      const { a, b } = pair(mode, suite, { packetBytesMax: 1500 });
      const sealed = a.seal(bytes(100));
      for (let len = 0; len < a.overheadBytes; len++) expect(reason(b.open(sealed.subarray(0, len), A))).toBe('truncated');
      expect(reason(b.open(new Uint8Array(1501), A))).toBe('oversized');
      expect(reason(b.open(new Uint8Array(65_536), A))).toBe('oversized');
      expect(() => a.seal(new Uint8Array(1500 - a.overheadBytes + 1))).toThrow(RingcastError);
      expect(a.seal(new Uint8Array(1500 - a.overheadBytes)).length).toBe(1500);
    }
  });

  it('unknown sender: not configured, or not the daemon the transport saw', () => {
    const { a, b } = pair('encrypt', 'aes-256-gcm');
    const sealed = a.seal(bytes(10));
    expect(reason(b.open(sealed, C))).toBe('unknown-sender');
    const stranger = new PacketProtector({ self: 0x0a0000ff, incarnation: 9, daemons: [A, B], mode: 'encrypt', clusterSecret: SECRET });
    expect(reason(b.open(stranger.seal(bytes(10)), 0x0a0000ff))).toBe('unknown-sender');
    expect(b.open(sealed, A).ok).toBe(true);
  });
});

describe('replay protection', () => {
  it('a replayed packet is rejected, reordered packets within the window are accepted once', () => {
    const { a, b } = pair('encrypt', 'aes-256-gcm');
    const packets = Array.from({ length: 50 }, (_, i) => a.seal(bytes(30, i + 1)));
    const order = [...packets.keys()].reverse();
    for (const i of order) expect(b.open(packets[i]!, A).ok).toBe(true);
    for (const i of order) expect(reason(b.open(packets[i]!, A))).toBe('replay');
    expect(b.stats().rejected.replay).toBe(50);
  });

  it('window edge: exactly REPLAY_WINDOW_PACKETS−1 behind the newest is accepted, one more is too old', () => {
    expect(REPLAY_WINDOW_PACKETS).toBeGreaterThanOrEqual(8128);
    const { a, b } = pair('integrity', 'hmac-sha256');
    const packets = Array.from({ length: REPLAY_WINDOW_PACKETS + 1 }, () => a.seal(bytes(8)));
    const newest = packets.length - 1;
    expect(b.open(packets[newest]!, A).ok).toBe(true);
    expect(b.open(packets[newest - (REPLAY_WINDOW_PACKETS - 1)]!, A).ok).toBe(true);
    expect(reason(b.open(packets[newest - REPLAY_WINDOW_PACKETS]!, A))).toBe('too-old');
    expect(reason(b.open(packets[newest - (REPLAY_WINDOW_PACKETS - 1)]!, A))).toBe('replay');
    expect(b.open(packets[newest - 1]!, A).ok).toBe(true);
  });

  it('far ahead: a packet far beyond the window is accepted and everything before the new window becomes too old', () => {
    const { a, b } = pair('encrypt', 'chacha20-poly1305');
    const packets = Array.from({ length: 3 * REPLAY_WINDOW_PACKETS }, () => a.seal(bytes(4)));
    expect(b.open(packets[0]!, A).ok).toBe(true);
    expect(b.open(packets[packets.length - 1]!, A).ok).toBe(true);
    expect(reason(b.open(packets[1]!, A))).toBe('too-old');
    expect(reason(b.open(packets[REPLAY_WINDOW_PACKETS]!, A))).toBe('too-old');
    expect(b.open(packets[packets.length - 2]!, A).ok).toBe(true);
  });

  it('windows are per sender: one sender does not move another sender’s window', () => {
    const { a, b } = pair('encrypt', 'aes-256-gcm');
    const c = new PacketProtector({ self: C, incarnation: INCARNATION + 1_000_000, daemons: [A, B, C], mode: 'encrypt', clusterSecret: SECRET });
    const fromA = a.seal(bytes(5));
    expect(b.open(c.seal(bytes(5)), C).ok).toBe(true);
    expect(b.open(fromA, A).ok).toBe(true);
  });

  it('a restarted sender is accepted; packets of its earlier run cannot be replayed', () => {
    const base = { daemons: [A, B], mode: 'encrypt' as const, clusterSecret: SECRET };
    const receiver = new PacketProtector({ ...base, self: B, incarnation: 50 });
    const first = new PacketProtector({ ...base, self: A, incarnation: INCARNATION });
    const oldPackets = Array.from({ length: 20 }, () => first.seal(bytes(16)));
    for (const p of oldPackets.slice(0, 10)) expect(receiver.open(p, A).ok).toBe(true);
    // The daemon restarts 3 s later: a new protector with a larger incarnation.
    const second = new PacketProtector({ ...base, self: A, incarnation: INCARNATION + 3000 });
    expect(receiver.open(second.seal(bytes(16)), A).ok).toBe(true);
    for (const p of oldPackets) expect(reason(receiver.open(p, A))).toBe('too-old');
    expect(receiver.open(second.seal(bytes(16)), A).ok).toBe(true);
  });
  it('several restarts in a row: each run is accepted in turn, stragglers of every earlier run are too old', () => {
    const base = { daemons: [A, B], mode: 'integrity' as const, clusterSecret: SECRET };
    const receiver = new PacketProtector({ ...base, self: B, incarnation: 50 });
    const runs = [0, 10, 20, 30].map((d) => new PacketProtector({ ...base, self: A, incarnation: INCARNATION + d }));
    const stragglers = runs.map((r) => r.seal(bytes(12)));
    for (const run of runs) {
      expect(receiver.open(run.seal(bytes(12)), A).ok).toBe(true);
      expect(receiver.open(run.seal(bytes(12)), A).ok).toBe(true);
    }
    for (const p of stragglers.slice(0, 3)) expect(reason(receiver.open(p, A))).toBe('too-old');
    // The current run's own late packet is merely reordered: inside the window, accepted once.
    expect(receiver.open(stragglers[3]!, A).ok).toBe(true);
    expect(reason(receiver.open(stragglers[3]!, A))).toBe('replay');
  });
});

describe('nonces', () => {
  it('never repeat across many seals, nor across a restart of the same daemon', () => {
    const base = { self: A, daemons: [A, B], mode: 'encrypt' as const, clusterSecret: SECRET };
    const seen = new Set<string>();
    let total = 0;
    for (const incarnation of [INCARNATION, INCARNATION + 1, INCARNATION + 2]) {
      const p = new PacketProtector({ ...base, incarnation });
      for (let i = 0; i < 20_000; i++) {
        const sealed = p.seal(new Uint8Array(0));
        seen.add(Buffer.from(sealed.subarray(4, HEADER_BYTES)).toString('hex'));
        total++;
      }
    }
    expect(seen.size).toBe(total);
  });

  it('a restarted daemon seals with different keys: same plaintext, different tag even at the same position in its run', () => {
    const base = { self: A, daemons: [A, B], mode: 'integrity' as const, clusterSecret: SECRET };
    const p1 = new PacketProtector({ ...base, incarnation: INCARNATION });
    const p2 = new PacketProtector({ ...base, incarnation: INCARNATION + 1 });
    const s1 = p1.seal(bytes(40));
    const s2 = p2.seal(bytes(40));
    expect(Buffer.from(s1.subarray(-TAG_BYTES)).equals(Buffer.from(s2.subarray(-TAG_BYTES)))).toBe(false);
  });
});

describe('epochs', () => {
  const epochSecret = new Uint8Array(32).fill(0x5a);

  it('install, switch, open both during the change, retire ⇒ unknown-epoch', () => {
    const { a, b } = pair('encrypt', 'aes-256-gcm');
    const old = a.seal(bytes(10));
    for (const p of [a, b]) p.installEpoch(7, epochSecret);
    a.setSendEpoch(7);
    const fresh = a.seal(bytes(10));
    expect(parseHeader(fresh)!.epoch).toBe(7);
    const r = b.open(fresh, A);
    expect(r.ok && r.epoch).toBe(7);
    const late = b.open(old, A);
    expect(late.ok && late.epoch).toBe(0);
    const anotherOld = pair('encrypt', 'aes-256-gcm').a;
    const fromEpoch0 = anotherOld.seal(bytes(10));
    expect(b.retireEpoch(0)).toBe(true);
    expect(reason(b.open(fromEpoch0, A))).toBe('unknown-epoch');
    expect(b.retireEpoch(0)).toBe(false);
    expect(b.installedEpochs()).toEqual([7]);
    b.retireEpoch(7);
    expect(reason(b.open(a.seal(bytes(1)), A))).toBe('unknown-epoch');
  });

  it('an epoch with a different secret on the receiver ⇒ auth', () => {
    const { a, b } = pair('integrity', 'blake2b');
    a.installEpoch(3, epochSecret);
    b.installEpoch(3, new Uint8Array(32).fill(0x5b));
    a.setSendEpoch(3);
    expect(reason(b.open(a.seal(bytes(10)), A))).toBe('auth');
  });

  it('refuses bad epoch operations with errors', () => {
    const { a } = pair('encrypt', 'aes-256-gcm');
    expect(() => a.installEpoch(0, epochSecret)).toThrow(/already installed/);
    expect(() => a.installEpoch(2 ** 24, epochSecret)).toThrow(RingcastError);
    expect(() => a.installEpoch(5, new Uint8Array(16))).toThrow(RingcastError);
    expect(() => a.setSendEpoch(9)).toThrow(/not installed/);
    a.installEpoch(1, epochSecret);
    a.installEpoch(2, epochSecret);
    a.installEpoch(3, epochSecret);
    expect(() => a.installEpoch(4, epochSecret)).toThrow(/retire/);
    a.retireEpoch(0);
    expect(a.sendEpoch).toBeUndefined();
    expect(() => a.seal(bytes(1))).toThrow(/setSendEpoch/);
  });
});

describe('construction', () => {
  it('refuses invalid options with actionable errors', () => {
    const ok = { self: A, incarnation: INCARNATION, daemons: [A, B], mode: 'encrypt' as const, clusterSecret: SECRET };
    expect(() => new PacketProtector({ ...ok, incarnation: 0 })).toThrow(/incarnation/);
    expect(() => new PacketProtector({ ...ok, incarnation: 2 ** 42 })).toThrow(/incarnation/);
    expect(() => new PacketProtector({ ...ok, incarnation: 1.5 })).toThrow(/incarnation/);
    expect(() => new PacketProtector({ ...ok, suite: 'blake2b' })).toThrow(/does not belong/);
    expect(() => new PacketProtector({ ...ok, clusterSecret: undefined })).toThrow(/keygen/);
    expect(() => new PacketProtector({ ...ok, clusterSecret: new Uint8Array(31) })).toThrow(RingcastError);
    expect(() => new PacketProtector({ ...ok, packetBytesMax: 10 })).toThrow(/packetBytesMax/);
    expect(() => new PacketProtector({ ...ok, self: -1 })).toThrow(/self/);
    expect(() => new PacketProtector({ ...ok, mode: 'none', clusterSecret: undefined })).not.toThrow();
  });

  it('stats count every reason separately', () => {
    const { a, b } = pair('encrypt', 'aes-256-gcm');
    const p = a.seal(bytes(3));
    b.open(p, A);
    b.open(p, A);
    b.open(new Uint8Array(5), A);
    const s = b.stats();
    expect(s.opened).toBe(1);
    expect(s.rejected.replay).toBe(1);
    expect(s.rejected.truncated).toBe(1);
    expect(Object.keys(s.rejected).sort()).toEqual([...OPEN_FAILURE_REASONS].sort());
  });
});

describe('counter exhaustion', () => {
  it('the last incarnation seals up to counter 2^64−2, then refuses instead of wrapping', () => {
    const base = { daemons: [A, B], mode: 'none' as const };
    const p = new PacketProtector({ ...base, self: A, incarnation: 2 ** 42 - 1 });
    const receiver = new PacketProtector({ ...base, self: B, incarnation: 1 });
    const empty = new Uint8Array(0);
    let last = p.seal(empty);
    expect(parseHeader(last)!.counter).toBe((1n << 64n) - (1n << 22n));
    for (let i = 1; i < 2 ** 22 - 1; i++) last = p.seal(empty);
    expect(parseHeader(last)!.counter).toBe((1n << 64n) - 2n);
    expect(receiver.open(last, A).ok).toBe(true);
    expect(() => p.seal(empty)).toThrow(/exhausted/);
    expect(() => p.seal(empty)).toThrow(/exhausted/);
  });
});
