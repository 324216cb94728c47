import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { formatIPv6, parseIp, parseIPv4, parseIPv6, parsePeerIp } from '../../src/config/ip.js';

describe('IP text', () => {
  it('parses dotted quads strictly', () => {
    expect(parseIPv4('192.168.0.1')).toEqual(new Uint8Array([192, 168, 0, 1]));
    for (const bad of ['1.2.3', '1.2.3.4.5', '256.1.1.1', '01.2.3.4', '1.2.3.-4', '1..3.4', ' 1.2.3.4', '1.2.3.4 ', '0x1.2.3.4']) {
      expect(parseIPv4(bad), bad).toBeUndefined();
    }
  });

  it('parses the IPv6 text forms and rejects malformed ones', () => {
    expect(parseIp('::')?.text).toBe('::');
    expect(parseIp('::1')?.text).toBe('::1');
    expect(parseIp('1::')?.text).toBe('1::');
    expect(parseIp('2001:DB8:0:0:1:0:0:1')?.text).toBe('2001:db8::1:0:0:1');
    expect(parseIp('2001:db8:0:1:1:1:1:1')?.text).toBe('2001:db8:0:1:1:1:1:1');
    expect(parseIp('0:0:1:0:0:0:1:0')?.text).toBe('0:0:1::1:0');
    expect(parseIp('::ffff:10.1.2.3')?.text).toBe('::ffff:10.1.2.3');
    expect(parseIp('64:ff9b::192.0.2.33')?.text).toBe('64:ff9b::c000:221');
    expect(parseIp('[fe80::1]')?.text).toBe('fe80::1');
    for (const bad of ['1:2:3:4:5:6:7:8:9', '1::2::3', ':1:2:3:4:5:6:7', '12345::', 'g::1', '1:2:3:4:5:6:7::8', '::1.2.3', '[1.2.3.4]', 'fe80::1%eth0']) {
      expect(parseIp(bad), bad).toBeUndefined();
    }
  });

  it('peer addresses: IPv4-mapped becomes IPv4, zone ids are dropped', () => {
    expect(parsePeerIp('::ffff:127.0.0.1')).toMatchObject({ family: 4, text: '127.0.0.1' });
    expect(parsePeerIp('fe80::1%eth0')).toMatchObject({ family: 6, text: 'fe80::1' });
  });

  it('format and parse round-trip for any 16 bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (bytes) => {
        const text = formatIPv6(bytes);
        const back = parseIPv6(text);
        return back !== undefined && Buffer.from(back).equals(Buffer.from(bytes)) && formatIPv6(back) === text;
      }),
      { numRuns: 2000 },
    );
  });
});
