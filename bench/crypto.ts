/**
 * Packet-protection benchmark: every candidate AEAD and MAC at 64 B, 1 KB, 1,472 B, 8 KB and
 * 32 KB, then PacketProtector end to end in each mode and suite. Run with `npx tsx bench/crypto.ts`
 * (add `--quick` for a shorter, noisier run). Prints µs per operation and ratios, with the machine
 * it ran on. Each figure is the fastest of several short batches: on a shared or busy machine the
 * fastest batch is the one least disturbed by other work, so it estimates the cost itself best.
 *
 * The defaults in crypto/suites.ts were chosen from this output (see bench/README.md).
 */
import * as nodeCrypto from 'node:crypto';
import os from 'node:os';
import sodium from 'libsodium-wrappers';
import { chacha20poly1305, xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import { gcm } from '@noble/ciphers/aes.js';
import { blake2b } from '@noble/hashes/blake2.js';
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { initCrypto, PacketProtector } from '../crypto/index.js';
import type { ProtectionMode, SuiteName } from '../crypto/index.js';

const quick = process.argv.includes('--quick');
const SIZES = [64, 1024, 1472, 8192, 32768] as const;
/** Sizes that decide the defaults: 1 KB, 8 KB and 32 KB (the default 1,472-byte packet and loopback's large ones). */
const OVERALL_SIZES: readonly number[] = [1024, 8192, 32768];
const BATCHES = quick ? 5 : 15;
/** Work per batch, in payload bytes, so large sizes do not take forever and small ones are not noise. */
const BATCH_BYTES = quick ? 1_000_000 : 2_000_000;
const BATCH_OPS_MIN = 200;
const BATCH_OPS_MAX = quick ? 2_000 : 5_000;

interface Candidate {
  name: string;
  /** Returns a sealer and an opener for one payload size; the opener must verify what the sealer produced. */
  prepare(size: number): { seal(): Uint8Array; open(sealed: Uint8Array): void };
}

function opsFor(size: number): number {
  return Math.max(BATCH_OPS_MIN, Math.min(BATCH_OPS_MAX, Math.floor(BATCH_BYTES / Math.max(size, 256))));
}

/** Fastest µs per call of fn over BATCHES batches of n calls each, after one warm-up batch. */
function timeUs(n: number, fn: (i: number) => void): number {
  for (let i = 0; i < n; i++) fn(i);
  const results: number[] = [];
  for (let b = 0; b < BATCHES; b++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) fn(i);
    const t1 = process.hrtime.bigint();
    results.push(Number(t1 - t0) / 1000 / n);
  }
  return Math.min(...results);
}

const key = nodeCrypto.randomBytes(32);
const keyObject = nodeCrypto.createSecretKey(key);
const aad = nodeCrypto.randomBytes(16);

function nonce12(i: number): Buffer {
  return nonceN(12, i);
}

function nonce24(i: number): Buffer {
  return nonceN(24, i);
}

function check(ok: boolean, what: string): void {
  if (!ok) throw new Error(`benchmark self-check failed: ${what}`);
}

function nodeAead(algorithm: 'aes-256-gcm' | 'chacha20-poly1305', useKeyObject: boolean): Candidate['prepare'] {
  const k = useKeyObject ? keyObject : key;
  return (size) => {
    const pt = nodeCrypto.randomBytes(size);
    let counter = 0;
    return {
      seal() {
        const iv = nonce12(counter++);
        const c = algorithm === 'aes-256-gcm' ? nodeCrypto.createCipheriv(algorithm, k, iv, { authTagLength: 16 }) : nodeCrypto.createCipheriv(algorithm, k, iv, { authTagLength: 16 });
        c.setAAD(aad, { plaintextLength: pt.length });
        const body = c.update(pt);
        c.final();
        const out = new Uint8Array(12 + body.length + 16);
        out.set(iv, 0);
        out.set(body, 12);
        out.set(c.getAuthTag(), 12 + body.length);
        return out;
      },
      open(sealed) {
        const iv = sealed.subarray(0, 12);
        const d = algorithm === 'aes-256-gcm' ? nodeCrypto.createDecipheriv(algorithm, k, iv, { authTagLength: 16 }) : nodeCrypto.createDecipheriv(algorithm, k, iv, { authTagLength: 16 });
        d.setAAD(aad, { plaintextLength: sealed.length - 28 });
        d.setAuthTag(sealed.subarray(sealed.length - 16));
        d.update(sealed.subarray(12, sealed.length - 16));
        d.final();
      },
    };
  };
}

function nonceN(length: number, i: number): Buffer {
  const n = Buffer.alloc(length);
  n.writeUInt32BE(i >>> 0, length - 4);
  return n;
}

function sodiumAead(kind: 'xchacha' | 'chacha-ietf' | 'aegis256' | 'aegis128l'): Candidate['prepare'] {
  const spec = {
    xchacha: { keyBytes: 32, nonceBytes: 24, enc: sodium.crypto_aead_xchacha20poly1305_ietf_encrypt, dec: sodium.crypto_aead_xchacha20poly1305_ietf_decrypt },
    'chacha-ietf': { keyBytes: 32, nonceBytes: 12, enc: sodium.crypto_aead_chacha20poly1305_ietf_encrypt, dec: sodium.crypto_aead_chacha20poly1305_ietf_decrypt },
    aegis256: { keyBytes: 32, nonceBytes: 32, enc: sodium.crypto_aead_aegis256_encrypt, dec: sodium.crypto_aead_aegis256_decrypt },
    aegis128l: { keyBytes: 16, nonceBytes: 16, enc: sodium.crypto_aead_aegis128l_encrypt, dec: sodium.crypto_aead_aegis128l_decrypt },
  }[kind];
  const k = key.subarray(0, spec.keyBytes);
  const nlen = spec.nonceBytes;
  return (size) => {
    const pt = nodeCrypto.randomBytes(size);
    let counter = 0;
    return {
      seal() {
        const n = nonceN(nlen, counter++);
        const ct = spec.enc(pt, aad, null, n, k);
        const out = new Uint8Array(nlen + ct.length);
        out.set(n, 0);
        out.set(ct, nlen);
        return out;
      },
      open(sealed) {
        spec.dec(null, sealed.subarray(nlen), aad, sealed.subarray(0, nlen), k);
      },
    };
  };
}

function nobleAead(kind: 'chacha' | 'xchacha' | 'gcm'): Candidate['prepare'] {
  return (size) => {
    const pt = nodeCrypto.randomBytes(size);
    let counter = 0;
    const nlen = kind === 'xchacha' ? 24 : 12;
    const make = kind === 'chacha' ? chacha20poly1305 : kind === 'xchacha' ? xchacha20poly1305 : gcm;
    return {
      seal() {
        const n = nlen === 24 ? nonce24(counter++) : nonce12(counter++);
        const ct = make(key, n, aad).encrypt(pt);
        const out = new Uint8Array(nlen + ct.length);
        out.set(n, 0);
        out.set(ct, nlen);
        return out;
      },
      open(sealed) {
        make(key, sealed.subarray(0, nlen), aad).decrypt(sealed.subarray(nlen));
      },
    };
  };
}

/** A MAC candidate seals as payload ‖ tag and opens by recomputing and comparing in constant time. */
function macCandidate(tagBytes: number, mac: (data: Uint8Array) => Uint8Array): Candidate['prepare'] {
  return (size) => {
    const pt = nodeCrypto.randomBytes(size);
    return {
      seal() {
        const out = new Uint8Array(size + tagBytes);
        out.set(pt, 0);
        out.set(mac(pt).subarray(0, tagBytes), size);
        return out;
      },
      open(sealed) {
        const body = sealed.subarray(0, sealed.length - tagBytes);
        const tag = mac(body).subarray(0, tagBytes);
        check(nodeCrypto.timingSafeEqual(tag, sealed.subarray(sealed.length - tagBytes)), 'mac');
      },
    };
  };
}

/** GMAC: AES-256-GCM with everything as associated data and an empty plaintext (needs a unique nonce per tag). */
function nodeGmac(): Candidate['prepare'] {
  return (size) => {
    const pt = nodeCrypto.randomBytes(size);
    let counter = 0;
    return {
      seal() {
        const iv = nonce12(counter++);
        const c = nodeCrypto.createCipheriv('aes-256-gcm', keyObject, iv, { authTagLength: 16 }) as nodeCrypto.CipherGCM;
        c.setAAD(pt);
        c.final();
        const out = new Uint8Array(12 + size + 16);
        out.set(iv, 0);
        out.set(pt, 12);
        out.set(c.getAuthTag(), 12 + size);
        return out;
      },
      open(sealed) {
        const d = nodeCrypto.createDecipheriv('aes-256-gcm', keyObject, sealed.subarray(0, 12), { authTagLength: 16 }) as nodeCrypto.DecipherGCM;
        d.setAAD(sealed.subarray(12, sealed.length - 16));
        d.setAuthTag(sealed.subarray(sealed.length - 16));
        d.final();
      },
    };
  };
}

function fmt(x: number): string {
  return x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2);
}

function printTable(title: string, rows: { name: string; seal: number[]; open: number[] }[], baseline?: string): void {
  console.log(`\n${title} (µs per operation, fastest of ${BATCHES} batches)`);
  const head = ['candidate'.padEnd(44), ...SIZES.map((s) => `${s % 1024 === 0 ? `${s / 1024} KB` : `${s} B`} seal/open`.padStart(20))];
  console.log(head.join(''));
  for (const r of rows) {
    const cells = SIZES.map((_, i) => `${fmt(r.seal[i]!)} / ${fmt(r.open[i]!)}`.padStart(20));
    console.log(r.name.padEnd(44) + cells.join(''));
  }
  const overall = rows
    .map((r) => ({ name: r.name, us: SIZES.reduce((acc, size, i) => acc + (OVERALL_SIZES.includes(size) ? r.seal[i]! + r.open[i]! : 0), 0) }))
    .sort((x, y) => x.us - y.us);
  console.log('overall: sum of seal+open µs at 1 KB, 8 KB and 32 KB, best first:');
  for (const o of overall) console.log(`  ${o.name.padEnd(44)}${fmt(o.us).padStart(10)}`);
  const base = rows.find((r) => r.name === baseline);
  if (base) {
    console.log(`ratios of seal+open time to "${baseline}" (>1 = slower):`);
    for (const r of rows) {
      const cells = SIZES.map((_, i) => ((r.seal[i]! + r.open[i]!) / (base.seal[i]! + base.open[i]!)).toFixed(2).padStart(20));
      console.log(r.name.padEnd(44) + cells.join(''));
    }
  }
}

function runCandidates(list: Candidate[]): { name: string; seal: number[]; open: number[] }[] {
  const rows: { name: string; seal: number[]; open: number[] }[] = [];
  for (const c of list) {
    const seal: number[] = [];
    const open: number[] = [];
    for (const size of SIZES) {
      const p = c.prepare(size);
      const n = opsFor(size);
      const sealed = p.seal();
      p.open(sealed);
      seal.push(timeUs(n, () => void p.seal()));
      open.push(timeUs(n, () => p.open(sealed)));
    }
    rows.push({ name: c.name, seal, open });
  }
  return rows;
}

async function main(): Promise<void> {
  await sodium.ready;
  await initCrypto();
  const cpus = os.cpus();
  console.log('Ringcast packet-protection benchmark');
  console.log(`machine: ${cpus[0]?.model ?? 'unknown cpu'}, ${cpus.length} logical cores, ${Math.round(os.totalmem() / 2 ** 20)} MiB; node ${process.version} (${process.arch}); OpenSSL ${process.versions.openssl}; libsodium ${sodium.SODIUM_VERSION_STRING} (WebAssembly, libsodium-wrappers)${quick ? '; QUICK run' : ''}`);
  console.log(`load average at start: ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);

  const aeads: Candidate[] = [
    { name: 'node:crypto AES-256-GCM (KeyObject)', prepare: nodeAead('aes-256-gcm', true) },
    { name: 'node:crypto AES-256-GCM (raw key)', prepare: nodeAead('aes-256-gcm', false) },
    { name: 'node:crypto ChaCha20-Poly1305 (KeyObject)', prepare: nodeAead('chacha20-poly1305', true) },
    { name: 'libsodium ChaCha20-Poly1305-IETF', prepare: sodiumAead('chacha-ietf') },
    { name: 'libsodium XChaCha20-Poly1305', prepare: sodiumAead('xchacha') },
    { name: 'libsodium AEGIS-256 (wasm, no AES-NI)', prepare: sodiumAead('aegis256') },
    { name: 'libsodium AEGIS-128L (wasm, no AES-NI)', prepare: sodiumAead('aegis128l') },
    { name: '@noble ChaCha20-Poly1305', prepare: nobleAead('chacha') },
    { name: '@noble XChaCha20-Poly1305', prepare: nobleAead('xchacha') },
    { name: '@noble AES-256-GCM', prepare: nobleAead('gcm') },
  ];
  console.log('libsodium AES-256-GCM: not offered by libsodium-wrappers (the WebAssembly build has no AES-NI), not measured');
  printTable('AEAD candidates, 16-byte associated data', runCandidates(aeads), 'node:crypto AES-256-GCM (KeyObject)');

  const macs: Candidate[] = [
    { name: 'libsodium keyed BLAKE2b-128', prepare: macCandidate(16, (d) => sodium.crypto_generichash(16, d, key)) },
    { name: 'libsodium keyed BLAKE2b-256', prepare: macCandidate(32, (d) => sodium.crypto_generichash(32, d, key)) },
    { name: 'node:crypto HMAC-SHA-256 (tag 128)', prepare: macCandidate(16, (d) => nodeCrypto.createHmac('sha256', keyObject).update(d).digest()) },
    { name: 'node:crypto HMAC-SHA-512/256 (tag 128)', prepare: macCandidate(16, (d) => nodeCrypto.createHmac('sha512', keyObject).update(d).digest()) },
    { name: 'libsodium crypto_auth HMAC-SHA-512-256', prepare: macCandidate(16, (d) => sodium.crypto_auth(d, key)) },
    { name: '@noble keyed BLAKE2b-128', prepare: macCandidate(16, (d) => blake2b(d, { key, dkLen: 16 })) },
    { name: '@noble HMAC-SHA-256 (tag 128)', prepare: macCandidate(16, (d) => hmac(sha256, key, d)) },
    { name: 'node:crypto GMAC (AES-256-GCM, AAD only)', prepare: nodeGmac() },
  ];
  printTable('MAC candidates (integrity only)', runCandidates(macs), 'node:crypto HMAC-SHA-256 (tag 128)');

  const secret = nodeCrypto.randomBytes(32);
  const configs: { mode: ProtectionMode; suite?: SuiteName }[] = [
    { mode: 'none' },
    { mode: 'integrity', suite: 'hmac-sha256' },
    { mode: 'integrity', suite: 'blake2b' },
    { mode: 'encrypt', suite: 'aes-256-gcm' },
    { mode: 'encrypt', suite: 'chacha20-poly1305' },
  ];
  const protectorRows: { name: string; seal: number[]; open: number[] }[] = [];
  for (const cfg of configs) {
    const seal: number[] = [];
    const open: number[] = [];
    for (const size of SIZES) {
      const opts = { clusterSecret: secret, mode: cfg.mode, daemons: [1, 2], ...(cfg.suite ? { suite: cfg.suite } : {}) };
      const a = new PacketProtector({ ...opts, self: 1, incarnation: 1_700_000_000_000 });
      const b = new PacketProtector({ ...opts, self: 2, incarnation: 1_700_000_000_001 });
      const pt = nodeCrypto.randomBytes(size);
      const n = opsFor(size);
      seal.push(timeUs(n, () => void a.seal(pt)));
      // Open needs fresh packets (the replay window refuses repeats): seal a batch ahead, time only open.
      const packets: Uint8Array[] = [];
      for (let i = 0; i < n * (BATCHES + 1); i++) packets.push(a.seal(pt));
      let next = 0;
      open.push(
        timeUs(n, () => {
          const r = b.open(packets[next++]!, 1);
          if (!r.ok) throw new Error(`protector self-check failed: ${r.reason}`);
        }),
      );
    }
    protectorRows.push({ name: `PacketProtector ${cfg.mode}${cfg.suite ? ` ${cfg.suite}` : ''}`, seal, open });
  }
  printTable('PacketProtector end to end (header, key cache, replay window included)', protectorRows, 'PacketProtector encrypt aes-256-gcm');
  console.log(`\nload average at end: ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
}

await main();
