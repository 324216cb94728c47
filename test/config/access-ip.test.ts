import { describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { emptyAccessIpRules, ipAllowed, loadAccessIp, parseAccessIp } from '../../src/config/access-ip.js';
import { ConfigError } from '../../src/util/errors.js';

const confDir = fileURLToPath(new URL('../../conf/', import.meta.url));
const tcp = (address: string) => ({ kind: 'tcp' as const, address });
const unix = { kind: 'unix' as const };

describe('parseAccessIp', () => {
  it('reads networks, hosts, local and unix with comments and blank lines', () => {
    const rules = parseAccessIp('# header\n\n192.168.1.0/24\n  10.0.0.5   # one host\nLOCAL\nunix\n2001:db8::/32\n[fe80::1]\n', 'a.ip');
    expect(rules.file).toBe('a.ip');
    expect(rules.local).toBe(true);
    expect(rules.unix).toBe(true);
    expect(rules.networks.map((n) => [n.family, n.prefixBits, n.line])).toEqual([
      [4, 24, 3],
      [4, 32, 4],
      [6, 32, 7],
      [6, 128, 8],
    ]);
  });

  it('an empty file allows nothing', () => {
    const rules = parseAccessIp('# nothing\n', 'e.ip');
    expect(ipAllowed(rules, tcp('127.0.0.1'))).toBe(false);
    expect(ipAllowed(rules, unix)).toBe(false);
  });

  const bad: Array<[string, string, number, string]> = [
    ['not an address', 'local\nfoo.example\n', 2, "'foo.example' is not a rule"],
    ['octet out of range', '10.0.0.256\n', 1, 'is not a rule'],
    ['IPv4 prefix too long', '# x\n10.0.0.0/33\n', 2, "prefix '/33' must be a number from 0 to 32"],
    ['IPv6 prefix too long', '2001:db8::/129\n', 1, 'from 0 to 128'],
    ['prefix not a number', '10.0.0.0/abc\n', 1, "prefix '/abc'"],
    ['empty prefix', '10.0.0.0/\n', 1, "prefix '/'"],
    ['two rules on a line', '\n\n10.0.0.1 10.0.0.2\n', 3, 'one rule per line'],
    ['partial address', '10.0.0\n', 1, 'is not a rule'],
  ];
  for (const [what, text, line, fragment] of bad) {
    it(`rejects ${what} with file and line`, () => {
      let caught: unknown;
      try {
        parseAccessIp(text, 'bad.ip');
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(ConfigError);
      const e = caught as ConfigError;
      expect(e.line).toBe(line);
      expect(e.message.startsWith(`bad.ip:${line}: `)).toBe(true);
      expect(e.message).toContain(fragment);
    });
  }
});

describe('ipAllowed', () => {
  const rules = parseAccessIp('192.168.1.0/24\n10.0.0.5\n172.16.0.0/12\n2001:db8:aa::/48\n10.9.8.7/8\n', 'r.ip');

  it('matches IPv4 networks and hosts by prefix', () => {
    expect(ipAllowed(rules, tcp('192.168.1.77'))).toBe(true);
    expect(ipAllowed(rules, tcp('192.168.2.1'))).toBe(false);
    expect(ipAllowed(rules, tcp('10.0.0.5'))).toBe(true);
    expect(ipAllowed(rules, tcp('10.0.0.6'))).toBe(true); // by 10.9.8.7/8
    expect(ipAllowed(rules, tcp('11.0.0.5'))).toBe(false);
    expect(ipAllowed(rules, tcp('172.31.255.255'))).toBe(true);
    expect(ipAllowed(rules, tcp('172.32.0.0'))).toBe(false);
  });

  it('treats IPv4-mapped IPv6 peers as IPv4', () => {
    expect(ipAllowed(rules, tcp('::ffff:192.168.1.9'))).toBe(true);
    expect(ipAllowed(rules, tcp('::ffff:192.168.3.9'))).toBe(false);
    const local = parseAccessIp('local\n', 'l.ip');
    expect(ipAllowed(local, tcp('::ffff:127.0.0.1'))).toBe(true);
  });

  it('matches IPv6 networks and does not mix families', () => {
    expect(ipAllowed(rules, tcp('2001:db8:aa:1::5'))).toBe(true);
    expect(ipAllowed(rules, tcp('2001:db8:ab::5'))).toBe(false);
    expect(ipAllowed(parseAccessIp('0.0.0.0/0\n', 'x'), tcp('2001:db8::1'))).toBe(false);
    expect(ipAllowed(parseAccessIp('::/0\n', 'x'), tcp('10.1.1.1'))).toBe(false);
    expect(ipAllowed(parseAccessIp('::/0\n', 'x'), tcp('fe80::1%eth0'))).toBe(true);
  });

  it('an IPv4-mapped rule matches IPv4 peers', () => {
    const mapped = parseAccessIp('::ffff:10.1.0.0/112\n', 'm.ip');
    expect(ipAllowed(mapped, tcp('10.1.200.3'))).toBe(true);
    expect(ipAllowed(mapped, tcp('10.2.0.1'))).toBe(false);
  });

  it('local admits 127.0.0.0/8 and ::1 only', () => {
    const local = parseAccessIp('local\n', 'l.ip');
    expect(ipAllowed(local, tcp('127.0.0.1'))).toBe(true);
    expect(ipAllowed(local, tcp('127.200.1.1'))).toBe(true);
    expect(ipAllowed(local, tcp('::1'))).toBe(true);
    expect(ipAllowed(local, tcp('::2'))).toBe(false);
    expect(ipAllowed(local, tcp('128.0.0.1'))).toBe(false);
    expect(ipAllowed(local, unix)).toBe(false);
  });

  it('unix admits Unix-socket clients (which Spread 5.0.1 never does)', () => {
    expect(ipAllowed(parseAccessIp('unix\n', 'u.ip'), unix)).toBe(true);
    expect(ipAllowed(rules, unix)).toBe(false);
    expect(ipAllowed(parseAccessIp('unix\n', 'u.ip'), tcp('127.0.0.1'))).toBe(false);
  });

  it('never admits an unparsable peer address', () => {
    expect(ipAllowed(parseAccessIp('0.0.0.0/0\nlocal\n', 'x'), tcp('not-an-ip'))).toBe(false);
    expect(ipAllowed(parseAccessIp('0.0.0.0/0\n', 'x'), tcp(''))).toBe(false);
  });

  it('the empty rule set (no file) denies everyone', () => {
    const none = emptyAccessIpRules();
    expect(ipAllowed(none, tcp('127.0.0.1'))).toBe(false);
    expect(ipAllowed(none, unix)).toBe(false);
  });

  it('the sample conf/spread.access_ip parses and admits what it says', () => {
    const sample = loadAccessIp(`${confDir}spread.access_ip`);
    expect(ipAllowed(sample, unix)).toBe(true);
    expect(ipAllowed(sample, tcp('127.0.0.1'))).toBe(true);
    expect(ipAllowed(sample, tcp('192.168.10.200'))).toBe(true);
    expect(ipAllowed(sample, tcp('10.20.0.5'))).toBe(true);
    expect(ipAllowed(sample, tcp('10.20.0.6'))).toBe(false);
    expect(ipAllowed(sample, tcp('2001:db8:10:ffff::1'))).toBe(true);
  });
});
