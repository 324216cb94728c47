import { describe, expect, it } from 'vitest';
import { defaultConfig, expandEventLogFile, findSelf, parseConfig } from '../../src/config/index.js';
import { RingcastError } from '../../src/util/errors.js';

const lan = parseConfig('Spread_Segment 192.168.1.255 { a 192.168.1.1 b 192.168.1.2 }', 'lan.conf');
const loop = parseConfig('Spread_Segment 127.255.255.255 { r1 127.0.0.1 r2 127.0.0.2 r3 127.0.0.3 }', 'loop.conf');
const six = parseConfig('Spread_Segment [ff02::1]:4803 { x 2001:db8::1 y 2001:db8::2 }', 'six.conf');

function selfError(fn: () => unknown): RingcastError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(RingcastError);
    return err as RingcastError;
  }
  throw new Error('expected an error');
}

describe('findSelf', () => {
  it('picks the daemon named by -n, whatever the local addresses', () => {
    expect(findSelf(loop, { name: 'r2', localAddresses: ['127.0.0.1'] }).address).toBe('127.0.0.2');
    expect(findSelf(lan, { name: 'b', localAddresses: [] }).name).toBe('b');
  });

  it('refuses an unknown name and lists the configured ones', () => {
    const err = selfError(() => findSelf(lan, { name: 'zz', localAddresses: [] }));
    expect(err.code).toBe('CONFIG_SELF');
    expect(err.message).toContain("no daemon named 'zz' in lan.conf");
    expect(err.message).toContain('a, b');
  });

  it('finds the unique daemon with a local address', () => {
    expect(findSelf(lan, { localAddresses: ['127.0.0.1', '::1', '192.168.1.2', 'fe80::1%eth0'] }).name).toBe('b');
  });

  it('accepts IPv4-mapped IPv6 and differently spelled IPv6 local addresses', () => {
    expect(findSelf(lan, { localAddresses: ['::ffff:192.168.1.1'] }).name).toBe('a');
    expect(findSelf(six, { localAddresses: ['2001:DB8:0:0:0:0:0:2'] }).name).toBe('y');
  });

  it('fails clearly when no daemon is local', () => {
    const err = selfError(() => findSelf(lan, { localAddresses: ['10.9.9.9', 'garbage'] }));
    expect(err.code).toBe('CONFIG_SELF');
    expect(err.message).toContain('has an address of this host');
    expect(err.message).toContain('-n <name>');
  });

  it('fails clearly when several daemons are local', () => {
    const err = selfError(() => findSelf(loop, { localAddresses: ['127.0.0.1', '127.0.0.2'] }));
    expect(err.code).toBe('CONFIG_SELF');
    expect(err.message).toContain('several daemons');
    expect(err.message).toContain('r1');
    expect(err.message).toContain('r2');
  });

  it('names the built-in default when there is no file', () => {
    const err = selfError(() => findSelf(defaultConfig(), { localAddresses: [] }));
    expect(err.message).toContain('built-in default');
    expect(findSelf(defaultConfig(), { localAddresses: ['127.0.0.1'] }).name).toBe('localhost');
  });
});

describe('expandEventLogFile', () => {
  it('replaces every %h with the host name and leaves other text alone', () => {
    const cfg = parseConfig('Spread_Segment 10.0.0.255 { a 10.0.0.1 }\nEventLogFile = /var/log/%h/spread-%h-%d.log', 'e.conf');
    expect(expandEventLogFile(cfg, 'node7')).toBe('/var/log/node7/spread-node7-%d.log');
  });

  it('is undefined without EventLogFile', () => {
    expect(expandEventLogFile(lan, 'x')).toBeUndefined();
  });
});
