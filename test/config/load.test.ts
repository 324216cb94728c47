import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { accessIpCandidates, ipAllowed, loadAccessIp, loadAccessIpFor, loadConfig, parseConfig } from '../../src/config/index.js';
import { ConfigError } from '../../src/util/errors.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'ringcast-config-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('reads and parses a file, naming it in the result and in errors', () => {
    const good = join(dir, 'good.conf');
    writeFileSync(good, 'Spread_Segment 10.0.0.255 {\n  a 10.0.0.1\n}\n');
    expect(loadConfig(good).file).toBe(good);
    const bad = join(dir, 'bad.conf');
    writeFileSync(bad, 'Spread_Segment 10.0.0.255 {\n  a 10.0.0.1\n}\nWindow = x\n');
    const err = configError(() => loadConfig(bad));
    expect(err.message).toBe(`${bad}:4: Window must be a whole number, got 'x'`);
  });

  it('reports a missing file with line 0 and the OS reason', () => {
    const missing = join(dir, 'nope.conf');
    const err = configError(() => loadConfig(missing));
    expect(err.line).toBe(0);
    expect(err.file).toBe(missing);
    expect(err.message).toContain(`${missing}:0: cannot read the configuration file`);
    expect(err.message).toContain('ENOENT');
  });

  it('reports a directory with line 0', () => {
    const err = configError(() => loadConfig(dir));
    expect(err.line).toBe(0);
    expect(err.message).toContain('not a regular file');
  });
});

describe('access list files', () => {
  it('loadAccessIp reports a missing file with line 0', () => {
    const err = configError(() => loadAccessIp(join(dir, 'missing.ip')));
    expect(err.line).toBe(0);
    expect(err.message).toContain('cannot read the access list');
  });

  it('AccessIpFile, when set, must be readable; relative paths are taken from the working directory', () => {
    const cfg = parseConfig('Spread_Segment 10.0.0.255 { a 10.0.0.1 }\nAccessIpFile = rules.ip', 'c.conf');
    expect(accessIpCandidates(cfg, '/srv/x')).toEqual(['/srv/x/rules.ip']);
    expect(() => loadAccessIpFor(cfg, dir)).toThrow(ConfigError);
    writeFileSync(join(dir, 'rules.ip'), '10.0.0.0/8\n');
    const rules = loadAccessIpFor(cfg, dir);
    expect(ipAllowed(rules, { kind: 'tcp', address: '10.1.2.3' })).toBe(true);
  });

  it('without AccessIpFile, spread.access_ip is searched in the working directory, then /etc', () => {
    const cfg = parseConfig('Spread_Segment 10.0.0.255 { a 10.0.0.1 }', 'c.conf');
    expect(accessIpCandidates(cfg, '/srv/x')).toEqual(['/srv/x/spread.access_ip', '/etc/spread.access_ip']);
    const work = join(dir, 'work');
    mkdirSync(work);
    writeFileSync(join(work, 'spread.access_ip'), 'unix\n');
    const rules = loadAccessIpFor(cfg, work);
    expect(rules.file).toBe(join(work, 'spread.access_ip'));
    expect(ipAllowed(rules, { kind: 'unix' })).toBe(true);
  });
});
