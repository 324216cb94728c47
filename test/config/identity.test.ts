import { describe, expect, it } from 'vitest';
import { sha256 } from '@noble/hashes/sha2.js';
import { canonicalMembership, daemonIdFromName, parseConfig } from '../../src/config/index.js';

const base = `Spread_Segment 192.168.1.255:4803 {
  a 192.168.1.1
  b 192.168.1.2
}
Spread_Segment 10.0.0.255:4810 {
  c 10.0.0.3
}
`;

function hashOf(text: string): number {
  return parseConfig(text, 'h.conf').hash;
}

describe('configuration hash', () => {
  it('is the first 4 bytes (big-endian) of sha256 over the canonical membership text', () => {
    const cfg = parseConfig(base, 'h.conf');
    const d = sha256(new TextEncoder().encode(canonicalMembership(cfg.segments)));
    const expected = ((d[0]! << 24) | (d[1]! << 16) | (d[2]! << 8) | d[3]!) >>> 0;
    expect(cfg.hash).toBe(expected);
    expect(Number.isInteger(cfg.hash) && cfg.hash >= 0 && cfg.hash <= 0xffffffff).toBe(true);
  });

  it('ignores whitespace, comments, keyword case, options and interface blocks', () => {
    const h = hashOf(base);
    const variant = `# a different file for the same ring
      spread_segment   192.168.1.255:4803{a 192.168.1.1 {D 192.168.1.1} b 192.168.1.2}  # one line
      SPREAD_SEGMENT 10.0.0.255:4810 {
        c 10.0.0.3   # comment
      }
      Window = 50
      DebugFlags = { ALL }
      Crypto = encrypt
      ClusterKeyFile = /k
      EventLogFile = /var/log/x.log
      MaxPacketBytes = 9000
      WideAreaNetwork = false`;
    expect(hashOf(variant)).toBe(h);
  });

  it('ignores how an address is spelled', () => {
    const a = 'Spread_Segment [ff02::1]:4803 { x 2001:db8::1 }';
    expect(hashOf('Spread_Segment [FF02:0::1]:4803 { x [2001:0DB8:0000::0001] }')).toBe(hashOf(a));
    expect(hashOf('Spread_Segment ff02:0:0:0:0:0:0:1 { x 2001:db8:0:0::1 }')).toBe(hashOf(a));
    expect(hashOf('Spread_Segment 10.1.1.255 { x 10.1.1.1 }')).toBe(hashOf('Spread_Segment 10.1.1.255:4803 { x 10.1.1.1 }'));
  });

  it('changes when a daemon, an address, a port, a name or the order changes', () => {
    const h = hashOf(base);
    const variants = [
      base.replace('b 192.168.1.2', 'b 192.168.1.22'),
      base.replace('b 192.168.1.2', 'bb 192.168.1.2'),
      base.replace('4810', '4811'),
      base.replace('192.168.1.255', '192.168.1.254'),
      base.replace('  b 192.168.1.2\n', ''),
      base.replace('  a 192.168.1.1\n  b 192.168.1.2\n', '  b 192.168.1.2\n  a 192.168.1.1\n'),
      base.replace('  c 10.0.0.3\n', '  c 10.0.0.3\n  d 10.0.0.4\n'),
      // moving a daemon into its own segment changes dissemination, hence the hash
      base.replace('  b 192.168.1.2\n}', '}\nSpread_Segment 192.168.1.255:4803 {\n  b 192.168.1.2\n}'),
    ];
    const hashes = variants.map(hashOf);
    for (const v of hashes) expect(v).not.toBe(h);
    expect(new Set(hashes).size).toBe(hashes.length);
  });
});

describe('daemon ids', () => {
  it('are the IPv4 addresses as unsigned integers when all are distinct IPv4', () => {
    const cfg = parseConfig('Spread_Segment 192.168.1.255 { a 192.168.1.1 b 192.168.1.200 c 255.1.2.3 }', 'i.conf');
    expect(cfg.daemons.map((d) => d.id)).toEqual([0xc0a80101, 0xc0a801c8, 0xff010203]);
  });

  it('are name hashes when addresses repeat (one host, several ports)', () => {
    const text = 'Spread_Segment 127.0.0.1:4803 { one 127.0.0.1 }\nSpread_Segment 127.0.0.1:4805 { two 127.0.0.1 }';
    const cfg = parseConfig(text, 'i.conf');
    expect(cfg.daemons.map((d) => d.id)).toEqual([daemonIdFromName('one'), daemonIdFromName('two')]);
    const d = sha256(new TextEncoder().encode('ringcast-daemon:one'));
    expect(daemonIdFromName('one')).toBe(((d[0]! << 24) | (d[1]! << 16) | (d[2]! << 8) | d[3]!) >>> 0);
    expect(cfg.daemons[0]!.id).not.toBe(cfg.daemons[1]!.id);
  });

  it('are name hashes when any daemon is IPv6', () => {
    const text = 'Spread_Segment 10.0.0.255 { a 10.0.0.1 }\nSpread_Segment [ff02::1]:4803 { b 2001:db8::2 }';
    const cfg = parseConfig(text, 'i.conf');
    expect(cfg.daemons.map((d) => d.id)).toEqual([daemonIdFromName('a'), daemonIdFromName('b')]);
  });

  it('depend only on the configuration, so every daemon derives the same ones', () => {
    const a = parseConfig('Spread_Segment 127.0.0.1:4803 { x 127.0.0.1 }\nSpread_Segment 127.0.0.1:4805 { y 127.0.0.1 }', 'a');
    const b = parseConfig('# other host\nSpread_Segment 127.0.0.1:4803{x 127.0.0.1}Spread_Segment 127.0.0.1:4805{y 127.0.0.1}\nWindow=5', 'b');
    expect(b.daemons.map((d) => d.id)).toEqual(a.daemons.map((d) => d.id));
  });

  it('are unique within a configuration', () => {
    const lines = ['Spread_Segment 127.0.0.1:4803 {'];
    for (let i = 0; i < 100; i++) lines.push(`n${i} 127.0.${i >> 8}.${(i & 255) + 1}`);
    lines.push('}', 'Spread_Segment 127.0.0.1:4900 { again 127.0.0.1 }');
    const cfg = parseConfig(lines.join('\n'), 'u.conf');
    expect(new Set(cfg.daemons.map((d) => d.id)).size).toBe(cfg.daemons.length);
  });
});
