import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { parseAccessIp, parseConfig } from '../../src/config/index.js';
import { ConfigError } from '../../src/util/errors.js';

/** Either parses or throws a ConfigError; anything else fails the property. */
function parsesOrConfigError(fn: () => unknown): boolean {
  try {
    fn();
    return true;
  } catch (err) {
    return err instanceof ConfigError;
  }
}

const vocabulary = [
  'Spread_Segment', 'spread_segment', '{', '}', '=', '!', '#', '"', '\n', ' ', '\t', ':', '[', ']', '/', '%',
  '127.0.0.1', '127.0.0.2', '10.0.0.255:4803', '10.0.0.1', '[ff02::1]:4803', 'ff02::1', '2001:db8::1', '::ffff:1.2.3.4',
  '0.0.0.0', '239.1.1.1', '65535', '4803', '-1', '0', '99999999999', 'a', 'b', 'localhost', 'D', 'C', 'M', 'DCM',
  'DebugFlags', 'ALL', 'NONE', 'PRINT', '!EXIT', 'EventTimeStamp', '"[%H]"', 'EventLogFile', 'EventPriority', 'INFO',
  'DangerousMonitor', 'yes', 'maybe', 'SocketPortReuse', 'AUTO', 'RuntimeDir', '/var/run', 'DaemonUser', 'DaemonGroup',
  'MaxSessionMessages', 'Window', 'PersonalWindow', 'AcceleratedRing', 'AcceleratedWindow', 'WideAreaNetwork',
  'TokenTimeout', 'HurryTimeout', 'LookupTimeout', 'RequiredAuthMethods', 'AllowedAuthMethods', '"NULL IP"', '"IP"',
  'AccessControlPolicy', '"PERMIT"', 'MaxPacketBytes', 'UnixSocketPath', '/tmp/%p-%n', '/tmp/%q', 'Crypto', 'encrypt',
  'ClusterKeyFile', 'AccessIpFile', '__proto__', 'constructor', 'toString', '\u0000', '\u00e9', '\ud83d\ude00',
];

const tokenSoup = fc.array(fc.constantFrom(...vocabulary), { maxLength: 60 }).map((ts) => ts.join(' '));
const tightSoup = fc.array(fc.constantFrom(...vocabulary), { maxLength: 60 }).map((ts) => ts.join(''));

describe('garbage never throws anything but ConfigError', () => {
  it('arbitrary strings', () => {
    fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 300 }), (s) => parsesOrConfigError(() => parseConfig(s, 'fuzz.conf'))), {
      numRuns: 1500,
    });
  });

  it('soups of keywords, punctuation and addresses', () => {
    fc.assert(fc.property(tokenSoup, (s) => parsesOrConfigError(() => parseConfig(s, 'fuzz.conf'))), { numRuns: 3000 });
    fc.assert(fc.property(tightSoup, (s) => parsesOrConfigError(() => parseConfig(s, 'fuzz.conf'))), { numRuns: 2000 });
  });

  it('a valid file with a mutated suffix', () => {
    const valid = 'Spread_Segment 10.0.0.255:4803 {\n a 10.0.0.1\n b 10.0.0.2 { D 10.0.0.2 }\n}\nWindow = 100\n';
    fc.assert(
      fc.property(fc.nat({ max: valid.length }), tokenSoup, (cut, tail) => parsesOrConfigError(() => parseConfig(valid.slice(0, cut) + tail, 'fuzz.conf'))),
      { numRuns: 2000 },
    );
  });

  it('errors always carry a line within the text', () => {
    fc.assert(
      fc.property(tokenSoup, (s) => {
        try {
          parseConfig(s, 'fuzz.conf');
        } catch (err) {
          if (!(err instanceof ConfigError)) return false;
          const lines = s.split('\n').length;
          return err.line >= 0 && err.line <= lines && err.message.startsWith(`fuzz.conf:${err.line}: `);
        }
        return true;
      }),
      { numRuns: 2000 },
    );
  });

  it('access lists', () => {
    const lines = fc.array(
      fc.oneof(
        fc.constantFrom('local', 'unix', 'UNIX', '#', '10.0.0.0/8', '::1/128', '/', '1.2.3.4/', '::/0', '[::1]', 'x y'),
        fc.string({ maxLength: 30 }),
      ),
      { maxLength: 20 },
    );
    fc.assert(fc.property(lines, (ls) => parsesOrConfigError(() => parseAccessIp(ls.join('\n'), 'fuzz.ip'))), { numRuns: 2000 });
  });
});

describe('hash stability under layout', () => {
  it('random reformatting of a random valid configuration keeps the hash', () => {
    const daemonSet = fc.uniqueArray(fc.integer({ min: 1, max: 254 }), { minLength: 1, maxLength: 8 });
    const layout = fc.array(fc.constantFrom(' ', '\n', '\t', '  # c\n', '\n\n'), { minLength: 16, maxLength: 16 });
    fc.assert(
      fc.property(daemonSet, layout, (hosts, ws) => {
        const pick = (i: number) => ws[i % ws.length] as string;
        const canonical = `Spread_Segment 10.0.0.255:4803 {\n${hosts.map((h) => `d${h} 10.0.0.${h}`).join('\n')}\n}\n`;
        const parts = ['Spread_Segment', pick(0), '10.0.0.255:4803', pick(1), '{', pick(2)];
        hosts.forEach((h, i) => parts.push(`d${h}`, ' ', `10.0.0.${h}`, pick(i + 3)));
        parts.push('}', pick(15), 'Window = 7');
        return parseConfig(parts.join(''), 'a').hash === parseConfig(canonical, 'b').hash;
      }),
      { numRuns: 300 },
    );
  });
});
