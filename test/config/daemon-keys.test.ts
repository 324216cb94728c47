import * as fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { initCrypto } from '../../crypto/index.js';
import {
  checkDaemonIdentity,
  daemonKeyFingerprint,
  daemonPublicKeysEqual,
  formatDaemonPublicKey,
  generateDaemonIdentity,
  type DaemonIdentity,
} from '../../keys/index.js';
import { defaultConfig, loadConfig, loadTrustedDaemonKeys, parseConfig } from '../../src/config/index.js';
import { ConfigError, RingcastError } from '../../src/util/errors.js';

let alpha: DaemonIdentity;
let beta: DaemonIdentity;
let gamma: DaemonIdentity;

beforeAll(async () => {
  await initCrypto();
  alpha = generateDaemonIdentity(new Uint8Array(32).fill(1));
  beta = generateDaemonIdentity(new Uint8Array(32).fill(2));
  gamma = generateDaemonIdentity(new Uint8Array(32).fill(3));
});

const SEGMENT = 'Spread_Segment 10.0.0.255:4803 {\n  alpha 10.0.0.1\n  beta 10.0.0.2\n  gamma 10.0.0.3\n}\n';
const PROTECTED = 'Crypto = encrypt\nClusterKeyFile = /etc/ringcast/cluster.key\n';

function token(id: DaemonIdentity): string {
  return formatDaemonPublicKey(id.publicKey);
}

/** The ConfigError of parsing `text`; fails the test if it parses. */
function errorOf(text: string): ConfigError {
  try {
    parseConfig(text, 'd.conf');
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error('expected a ConfigError');
}

describe('DaemonPublicKey and DaemonIdentityFile', () => {
  it('default: no identity file, no trusted keys, epoch rekeying every 120 s or 1 000 000 packets', () => {
    for (const cfg of [defaultConfig(), parseConfig(SEGMENT, 'd.conf')]) {
      expect(cfg.daemonIdentityFile).toBeUndefined();
      expect(cfg.daemonPublicKeys.size).toBe(0);
      expect(cfg.epochRekeyMs).toBe(120_000);
      expect(cfg.epochRekeyPackets).toBe(1_000_000);
    }
  });

  it('maps daemon names to their keys, in configuration order, whatever the order of the lines', () => {
    const text =
      `DaemonPublicKey = gamma ${token(gamma)}\n` +
      SEGMENT +
      PROTECTED +
      `DaemonIdentityFile = /etc/ringcast/daemon.key\n` +
      `daemonpublickey = alpha ${token(alpha)}  # comments are fine\n`;
    const cfg = parseConfig(text, 'd.conf');
    expect(cfg.daemonIdentityFile).toBe('/etc/ringcast/daemon.key');
    expect([...cfg.daemonPublicKeys.keys()]).toEqual(['alpha', 'gamma']);
    expect(daemonPublicKeysEqual(cfg.daemonPublicKeys.get('alpha')!, alpha.publicKey)).toBe(true);
    expect(daemonPublicKeysEqual(cfg.daemonPublicKeys.get('gamma')!, gamma.publicKey)).toBe(true);
    // beta has no line: it is untrusted, which is allowed.
    expect(cfg.daemonPublicKeys.has('beta')).toBe(false);
  });

  it('accepts a quoted daemon name and daemons named by their address', () => {
    const text = 'Spread_Segment 127.0.0.255:4803 {\n  127.0.0.1\n  127.0.0.2\n}\n' + PROTECTED + `DaemonPublicKey = "127.0.0.2" ${token(beta)}\n`;
    expect([...parseConfig(text, 'd.conf').daemonPublicKeys.keys()]).toEqual(['127.0.0.2']);
  });

  it('refuses an unknown daemon name and lists the configured ones', () => {
    const e = errorOf(SEGMENT + PROTECTED + `\n\nDaemonPublicKey = delta ${token(alpha)}\n`);
    expect(e.line).toBe(10);
    expect(e.message).toMatch(/^d\.conf:10: /);
    expect(e.message).toContain("'delta'");
    expect(e.message).toContain('alpha, beta, gamma');
  });

  it('daemon names are case-sensitive, as in the segments', () => {
    expect(errorOf(SEGMENT + PROTECTED + `DaemonPublicKey = Alpha ${token(alpha)}\n`).message).toContain("'Alpha'");
  });

  it('refuses a daemon listed twice, naming the first line', () => {
    const e = errorOf(SEGMENT + PROTECTED + `DaemonPublicKey = beta ${token(beta)}\nDaemonPublicKey = beta ${token(gamma)}\n`);
    expect(e.line).toBe(9);
    expect(e.message).toContain("daemon 'beta'");
    expect(e.message).toContain('line 8');
  });

  it('refuses malformed keys and says how to get one', () => {
    const good = token(alpha);
    for (const bad of [good.slice(0, -1), 'rcd2:' + good.slice(5), good.replace('rcd1:', ''), 'AAAA', good + 'A']) {
      const e = errorOf(SEGMENT + PROTECTED + `DaemonPublicKey = alpha ${bad}\n`);
      expect(e.line, bad).toBe(8);
      expect(e.message).toContain('not a daemon public key');
      expect(e.message).toContain("'ringcast keygen --identity --name alpha'");
    }
  });

  it('refuses a line without its key or without its name', () => {
    const missing = errorOf(SEGMENT + `DaemonPublicKey = alpha\n` + PROTECTED);
    expect(missing.message).toContain("for daemon 'alpha' has no key");
    expect(missing.message).toContain('ringcast keygen --identity');
    expect(errorOf(SEGMENT + PROTECTED + `DaemonPublicKey = alpha`).message).toContain('has no key');
    const unnamed = errorOf(SEGMENT + PROTECTED + `DaemonPublicKey = ${token(alpha)}\n`);
    expect(unnamed.line).toBe(8);
    expect(unnamed.message).toContain('<daemon name> rcd1:');
    expect(errorOf(SEGMENT + PROTECTED + `DaemonPublicKey alpha ${token(alpha)}\n`).message).toContain("expected '='");
    expect(errorOf(SEGMENT + PROTECTED + `DaemonPublicKey = { }\n`).message).toContain('expected a daemon name');
  });

  it('refuses DaemonIdentityFile and DaemonPublicKey without packet protection', () => {
    const noneDefault = errorOf(SEGMENT + `DaemonIdentityFile = /k\n`);
    expect(noneDefault.line).toBe(6);
    expect(noneDefault.message).toContain('DaemonIdentityFile');
    expect(noneDefault.message).toContain('Crypto = encrypt or Crypto = integrity');
    const noneExplicit = errorOf(SEGMENT + `Crypto = none\n\nDaemonPublicKey = beta ${token(beta)}\n`);
    expect(noneExplicit.line).toBe(8);
    expect(noneExplicit.message).toContain('DaemonPublicKey');
    expect(noneExplicit.message).toContain('line 6');
    // integrity is enough.
    const cfg = parseConfig(SEGMENT + 'Crypto = integrity\nClusterKeyFile = k\n' + `DaemonPublicKey = beta ${token(beta)}\nDaemonIdentityFile = id.key\n`, 'd.conf');
    expect(cfg.cryptoMode).toBe('integrity');
    expect(cfg.daemonIdentityFile).toBe('id.key');
  });

  it('DaemonIdentityFile may be given once and not empty', () => {
    expect(errorOf(SEGMENT + PROTECTED + 'DaemonIdentityFile = /a\nDaemonIdentityFile = /b\n').message).toContain('given twice');
    expect(errorOf(SEGMENT + PROTECTED + 'DaemonIdentityFile = ""\n').message).toContain('must not be empty');
  });

  it('does not change the configuration hash', () => {
    const plain = parseConfig(SEGMENT, 'a.conf');
    const withKeys = parseConfig(
      SEGMENT + PROTECTED + `DaemonIdentityFile = /k\nDaemonPublicKey = alpha ${token(alpha)}\nDaemonPublicKey = beta ${token(beta)}\nEpochRekeySeconds = 5\nEpochRekeyPackets = 5000\n`,
      'b.conf',
    );
    expect(withKeys.hash).toBe(plain.hash);
  });
});

describe('EpochRekeySeconds and EpochRekeyPackets', () => {
  it('read seconds into milliseconds and packets as given, over their whole range', () => {
    const cfg = (s: string): ReturnType<typeof parseConfig> => parseConfig(SEGMENT + s, 'd.conf');
    expect(cfg('EpochRekeySeconds = 1\n').epochRekeyMs).toBe(1000);
    expect(cfg('EpochRekeySeconds = 86400\n').epochRekeyMs).toBe(86_400_000);
    expect(cfg('EpochRekeyPackets = 1000\n').epochRekeyPackets).toBe(1000);
    expect(cfg('EpochRekeyPackets = 1099511627776\n').epochRekeyPackets).toBe(2 ** 40);
  });

  it('refuse values out of range or not whole numbers, with file and line', () => {
    const cases: Array<[string, string]> = [
      ['EpochRekeySeconds = 0', 'out of range (1 to 86400)'],
      ['EpochRekeySeconds = 86401', 'out of range'],
      ['EpochRekeySeconds = 1.5', 'whole number'],
      ['EpochRekeySeconds = -3', 'whole number'],
      ['EpochRekeyPackets = 999', 'out of range (1000 to 1099511627776)'],
      ['EpochRekeyPackets = 1099511627777', 'out of range'],
      ['EpochRekeyPackets = 99999999999999999', 'whole number'],
      ['EpochRekeyPackets = 1e6', 'whole number'],
    ];
    for (const [line, want] of cases) {
      const e = errorOf(SEGMENT + '\n' + line + '\n');
      expect(e.message, line).toMatch(/^d\.conf:7: /);
      expect(e.message, line).toContain(want);
    }
    expect(errorOf(SEGMENT + 'EpochRekeySeconds = 5\nEpochRekeySeconds = 6\n').message).toContain('given twice');
  });
});

describe('checkDaemonIdentity', () => {
  const conf = (): ReturnType<typeof parseConfig> =>
    parseConfig(SEGMENT + PROTECTED + `DaemonIdentityFile = /etc/ringcast/daemon.key\nDaemonPublicKey = alpha ${token(alpha)}\nDaemonPublicKey = beta ${token(beta)}\n`, '/etc/ringcast/spread.conf');

  it('accepts the identity whose public key the configuration lists for this daemon', () => {
    expect(() => checkDaemonIdentity(conf(), 'alpha', alpha)).not.toThrow();
    expect(() => checkDaemonIdentity(conf(), 'beta', beta)).not.toThrow();
  });

  it('refuses a daemon without a DaemonPublicKey line and gives the line to add', () => {
    let err: unknown;
    try {
      checkDaemonIdentity(conf(), 'gamma', gamma);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(RingcastError);
    const e = err as RingcastError;
    expect(e.code).toBe('DAEMON_IDENTITY_UNTRUSTED');
    expect(e.message).toContain(daemonKeyFingerprint(gamma.publicKey));
    expect(e.message).toContain(`DaemonPublicKey = gamma ${token(gamma)}`);
    expect(e.message).toContain('/etc/ringcast/spread.conf');
  });

  it('refuses an identity that does not match the listed key and names both fingerprints', () => {
    let err: unknown;
    try {
      checkDaemonIdentity(conf(), 'alpha', beta);
    } catch (e) {
      err = e;
    }
    const e = err as RingcastError;
    expect(e.code).toBe('DAEMON_IDENTITY_MISMATCH');
    expect(e.message).toContain(daemonKeyFingerprint(alpha.publicKey));
    expect(e.message).toContain(daemonKeyFingerprint(beta.publicKey));
    expect(e.message).toContain('/etc/ringcast/daemon.key');
    expect(e.message).toContain(`DaemonPublicKey = alpha ${token(beta)}`);
  });

  it('refuses a name that is not a configured daemon', () => {
    expect(() => checkDaemonIdentity(conf(), 'delta', alpha)).toThrow(/'delta' is not a daemon/);
  });
});

describe('loadTrustedDaemonKeys', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ringcast-daemon-keys-'));
  });
  afterEach(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('re-reads the file: a deleted line revokes, an added line trusts', () => {
    const file = path.join(dir, 'spread.conf');
    fs.writeFileSync(file, SEGMENT + PROTECTED + `DaemonPublicKey = alpha ${token(alpha)}\nDaemonPublicKey = beta ${token(beta)}\n`);
    expect([...loadTrustedDaemonKeys(file).keys()]).toEqual(['alpha', 'beta']);
    const hash = loadConfig(file).hash;
    // Revoke beta, trust gamma.
    fs.writeFileSync(file, SEGMENT + PROTECTED + `DaemonPublicKey = alpha ${token(alpha)}\nDaemonPublicKey = gamma ${token(gamma)}\n`);
    const keys = loadTrustedDaemonKeys(file);
    expect([...keys.keys()]).toEqual(['alpha', 'gamma']);
    expect(daemonPublicKeysEqual(keys.get('gamma')!, gamma.publicKey)).toBe(true);
    expect(loadConfig(file).hash).toBe(hash);
  });

  it('throws a ConfigError with file and line for a bad file, and line 0 for a missing one', () => {
    const file = path.join(dir, 'spread.conf');
    fs.writeFileSync(file, SEGMENT + PROTECTED + `DaemonPublicKey = alpha rcd1:short\n`);
    expect(() => loadTrustedDaemonKeys(file)).toThrow(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:8: `));
    expect(() => loadTrustedDaemonKeys(path.join(dir, 'none.conf'))).toThrow(/:0: cannot read the configuration file/);
  });
});
