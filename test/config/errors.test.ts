import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/index.js';
import { ConfigError, RingcastError } from '../../src/util/errors.js';

const SEG = 'Spread_Segment 10.0.0.255:4803 {\n  a 10.0.0.1\n}\n'; // lines 1-3
const ALL_TIMEOUTS = [
  'TokenTimeout = 1250',
  'HurryTimeout = 500',
  'AliveTimeout = 250',
  'JoinTimeout = 250',
  'RepTimeout = 625',
  'SegTimeout = 500',
  'GatherTimeout = 1250',
  'FormTimeout = 1250',
  'LookupTimeout = 30000',
];

function errorOf(text: string, file = 'bad.conf'): ConfigError {
  try {
    parseConfig(text, file);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    expect(err).toBeInstanceOf(RingcastError);
    return err as ConfigError;
  }
  throw new Error(`expected a ConfigError for:\n${text}`);
}

// [what, text, line, a fragment of the problem]
const cases: Array<[string, string, number, string]> = [
  ['unknown keyword', `${SEG}\nFrobnicate = 3\n`, 5, "unknown keyword 'Frobnicate'"],
  ['stray token at top level', `${SEG}}\n`, 4, "expected a keyword"],
  ['missing = after an option', `${SEG}Window 10\n`, 4, "expected '=' after Window"],
  ['missing value', `${SEG}Window =\n`, 4, 'expected a value for Window'],
  ['bad number', `${SEG}Window = ten\n`, 4, "Window must be a whole number, got 'ten'"],
  ['negative number', `${SEG}MaxSessionMessages = -5\n`, 4, 'must be a whole number'],
  ['Window out of range', `${SEG}Window = 0\n`, 4, 'Window = 0 is out of range'],
  ['MaxPacketBytes too big', `${SEG}MaxPacketBytes = 70000\n`, 4, 'MaxPacketBytes = 70000 is out of range (548 to 65000)'],
  ['MaxPacketBytes too small', `${SEG}MaxPacketBytes = 100\n`, 4, 'out of range'],
  ['timeout out of range', `${SEG}${ALL_TIMEOUTS.join('\n').replace('TokenTimeout = 1250', 'TokenTimeout = 0')}\n`, 4, 'TokenTimeout = 0 is out of range'],
  ['timeouts not all nine', `${SEG}\nTokenTimeout = 1000\nHurryTimeout = 400\n`, 5, 'missing AliveTimeout, JoinTimeout, RepTimeout, SegTimeout, GatherTimeout, FormTimeout, LookupTimeout'],
  ['duplicate option', `${SEG}Window = 10\nWindow = 20\n`, 5, 'Window is given twice (first on line 4)'],
  ['duplicate option, case differs', `${SEG}Window = 10\nWINDOW = 20\n`, 5, 'given twice'],
  ['bad boolean', `${SEG}DangerousMonitor = maybe\n`, 4, 'DangerousMonitor must be true or false'],
  ['bad choice', `${SEG}SocketPortReuse = SOMETIMES\n`, 4, 'SocketPortReuse must be one of AUTO, ON, OFF'],
  ['bad priority', `${SEG}EventPriority = LOUD\n`, 4, 'EventPriority must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL, FATAL'],
  ['bad crypto mode', `${SEG}Crypto = rot13\n`, 4, 'Crypto must be one of NONE, INTEGRITY, ENCRYPT'],
  ['crypto without key file', `${SEG}\nCrypto = encrypt\n`, 5, 'needs ClusterKeyFile'],
  ['unknown debug flag', `${SEG}DebugFlags = {\n PRINT\n BOGUS\n}\n`, 6, "unknown debug flag 'BOGUS'"],
  ['debug flags without braces', `${SEG}DebugFlags = PRINT\n`, 4, 'DebugFlags takes a list in braces'],
  ['debug flags missing }', `${SEG}DebugFlags = { PRINT EXIT\n\n`, 5, "DebugFlags list opened on line 4 is missing its closing '}'"],
  ['dangling ! in debug flags', `${SEG}DebugFlags = { PRINT ! }\n`, 4, "'!' at the end"],
  ['unknown auth method', `${SEG}AllowedAuthMethods = "NULL KERBEROS"\n`, 4, "unknown authentication method 'KERBEROS'"],
  ['unknown access policy', `${SEG}AccessControlPolicy = "DENY"\n`, 4, 'AccessControlPolicy must be one of PERMIT'],
  ['relative RuntimeDir', `${SEG}RuntimeDir = run/spread\n`, 4, 'RuntimeDir must be an absolute path'],
  ['bad DaemonUser', `${SEG}DaemonUser = "bad user"\n`, 4, 'DaemonUser must be a user or group name'],
  ['empty EventLogFile', `${SEG}EventLogFile = ""\n`, 4, 'EventLogFile must not be empty'],
  ['unknown socket path escape', `${SEG}UnixSocketPath = /tmp/%x\n`, 4, "unknown escape '%x'"],
  ['relative socket path', `${SEG}UnixSocketPath = sock\n`, 4, 'UnixSocketPath must be an absolute path'],
  ['socket path too long', `${SEG}UnixSocketPath = /${'d'.repeat(120)}/%p\n`, 4, 'longer than 107 bytes'],
  ['socket paths clash on one host', 'Spread_Segment 127.255.255.255 { a 127.0.0.1 b 127.0.0.2 }\nUnixSocketPath = /tmp/%p\n', 2, "the same socket '/tmp/4803'; include %n"],
  ['PersonalWindow above Window', `${SEG}Window = 10\nPersonalWindow = 11\n`, 5, 'PersonalWindow (11) must not exceed Window (10)'],
  ['AcceleratedWindow above PersonalWindow', `${SEG}AcceleratedWindow = 21\n`, 4, 'AcceleratedWindow (21) must not exceed PersonalWindow (20)'],
  ['unterminated string', `${SEG}EventLogFile = "abc\n`, 4, 'unterminated quoted string'],
  ['no daemons at all', '# nothing here\n\nWindow = 10\n', 3, 'no daemons configured'],
  ['empty file', '', 1, 'no daemons configured'],
  ['segment with no daemons', `${SEG}\nSpread_Segment 10.1.0.255 {\n}\n`, 5, 'lists no daemons'],
  ['segment missing }', 'Spread_Segment 10.0.0.255 {\n a 10.0.0.1\n b 10.0.0.2\n', 3, "the Spread_Segment opened on line 1 is missing its closing '}'"],
  ['segment missing } before next keyword', 'Spread_Segment 10.0.0.255 {\n a 10.0.0.1\nSpread_Segment 10.1.0.255 {\n b 10.1.0.1\n}\n', 3, 'the Spread_Segment opened on line 1 is missing'],
  ['segment missing {', 'Spread_Segment 10.0.0.255\n a 10.0.0.1\n', 2, "expected '{' after the Spread_Segment address"],
  ['segment address missing', 'Spread_Segment {\n a 10.0.0.1 }\n', 1, 'expected the segment address'],
  ['segment address not an IP', 'Spread_Segment lan.example:4803 {\n a 10.0.0.1 }\n', 1, "'lan.example' is not an IPv4 or IPv6 address"],
  ['segment address octet > 255', 'Spread_Segment 10.0.0.256 {\n a 10.0.0.1 }\n', 1, 'is not an IPv4 or IPv6 address'],
  ['port out of range', '\nSpread_Segment 10.0.0.255:65535 {\n a 10.0.0.1 }\n', 2, 'segment port 65535 is out of range (1 to 65534'],
  ['port zero', 'Spread_Segment 10.0.0.255:0 { a 10.0.0.1 }', 1, 'segment port 0 is out of range'],
  ['port not a number', 'Spread_Segment 10.0.0.255:http { a 10.0.0.1 }', 1, "segment port 'http' is not a number"],
  ['IPv6 segment missing ]', 'Spread_Segment [ff02::1:4803 { a fe80::1 }', 1, "missing its ']'"],
  ['daemon address missing', 'Spread_Segment 10.0.0.255 {\n a\n}\n', 3, "expected the IP address of daemon 'a'"],
  ['daemon address not an IP', 'Spread_Segment 10.0.0.255 {\n a host.example\n}\n', 2, "'host.example' is not an IPv4 or IPv6 address"],
  ['daemon address with a port', 'Spread_Segment 10.0.0.255 {\n a 10.0.0.1:4804\n}\n', 2, 'carries a port'],
  ['bad daemon name', 'Spread_Segment 10.0.0.255 {\n a/b 10.0.0.1\n}\n', 2, "'a/b' is neither an IP address nor a valid daemon name"],
  ['daemon name too long', 'Spread_Segment 10.0.0.255 {\n abcdefghijklmnopqrst 10.0.0.1\n}\n', 2, "daemon name 'abcdefghijklmnopqrst' is longer than 19 characters"],
  ['nameless IPv6 too long', 'Spread_Segment ff02::1 {\n 2001:db8:1:2:3:4:5:6\n}\n', 2, 'has no name and its address is longer than 19 characters'],
  ['multicast daemon address', 'Spread_Segment 10.0.0.255 {\n a 239.1.1.1\n}\n', 2, 'is a multicast address'],
  ['unspecified daemon address', 'Spread_Segment 10.0.0.255 {\n a 0.0.0.0\n}\n', 2, 'is the unspecified address'],
  ['IPv4-mapped daemon address', 'Spread_Segment ff02::1 {\n a ::ffff:10.0.0.1\n}\n', 2, 'write IPv4 addresses in dotted form'],
  ['family mismatch', 'Spread_Segment 10.0.0.255 {\n a 2001:db8::1\n}\n', 2, "daemon 'a' is IPv6 but its Spread_Segment (line 1) is IPv4"],
  ['duplicate daemon address', 'Spread_Segment 10.0.0.255 {\n a 10.0.0.1\n b 10.0.0.1\n}\n', 3, 'daemon address 10.0.0.1 port 4803 is configured twice (first on line 2)'],
  ['duplicate across segments', 'Spread_Segment 10.0.0.255 {\n a 10.0.0.1\n}\nSpread_Segment 10.0.0.255 {\n b 10.0.0.1\n}\n', 5, 'is configured twice (first on line 2)'],
  ['duplicate name', 'Spread_Segment 10.0.0.255 {\n a 10.0.0.1\n a 10.0.0.2\n}\n', 3, "daemon name 'a' is used twice (first on line 2)"],
  ['shared address without names', 'Spread_Segment 127.0.0.1:4803 {\n 127.0.0.1\n}\nSpread_Segment 127.0.0.1:4805 {\n 127.0.0.1\n}\n', 5, "daemon name '127.0.0.1' is used twice (first on line 2); give the daemons distinct names"],
  ['empty interface block', 'Spread_Segment 10.0.0.255 {\n a 10.0.0.1 {\n }\n}\n', 2, "the interface block of daemon 'a' is empty"],
  ['interface block missing }', 'Spread_Segment 10.0.0.255 {\n a 10.0.0.1 {\n D 10.0.0.1\n', 3, "the interface block of daemon 'a' opened on line 2 is missing its closing '}'"],
  ['interface type without address', 'Spread_Segment 10.0.0.255 {\n a 10.0.0.1 { D }\n}\n', 2, "expected an address after interface type 'D'"],
  ['interface type repeated', 'Spread_Segment 10.0.0.255 {\n a 10.0.0.1 { DD 10.0.0.1 }\n}\n', 2, "interface type 'D' repeated"],
  ['interface listed twice', 'Spread_Segment 10.0.0.255 {\n a 10.0.0.1 {\n D 10.0.0.1\n C 10.0.0.1 }\n}\n', 4, 'interface 10.0.0.1 is listed twice'],
  ['interface not an IP', 'Spread_Segment 10.0.0.255 {\n a 10.0.0.1 { X 10.0.0.1 }\n}\n', 2, "'X' is not an IPv4 or IPv6 address"],
];

describe('ConfigError for every kind of problem, with file and line', () => {
  for (const [what, text, line, fragment] of cases) {
    it(what, () => {
      const err = errorOf(text);
      expect(err.file).toBe('bad.conf');
      expect(err.line).toBe(line);
      expect(err.code).toBe('CONFIG_INVALID');
      expect(err.message.startsWith(`bad.conf:${line}: `)).toBe(true);
      expect(err.message).toContain(fragment);
    });
  }

  it('too many daemons (more than 128)', () => {
    const lines = ['Spread_Segment 10.0.255.255 {'];
    for (let i = 1; i <= 129; i++) lines.push(` d${i} 10.0.${i >> 8}.${i & 255}`);
    lines.push('}');
    const err = errorOf(lines.join('\n'));
    expect(err.line).toBe(130);
    expect(err.message).toContain('too many daemons (at most 128)');
  });

  it('exactly 128 daemons is accepted', () => {
    const lines = ['Spread_Segment 10.0.255.255 {'];
    for (let i = 1; i <= 128; i++) lines.push(` d${i} 10.0.0.${i}`);
    lines.push('}');
    expect(parseConfig(lines.join('\n'), 'ok.conf').daemons).toHaveLength(128);
  });

  it('too many segments (more than 20)', () => {
    const blocks: string[] = [];
    for (let i = 1; i <= 21; i++) blocks.push(`Spread_Segment 10.${i}.0.255 { d${i} 10.${i}.0.1 }`);
    const err = errorOf(blocks.join('\n'));
    expect(err.line).toBe(21);
    expect(err.message).toContain('too many Spread_Segment blocks (at most 20)');
  });

  it('names the file it was given', () => {
    const err = errorOf(`${SEG}Bogus = 1`, '/etc/ringcast/spread.conf');
    expect(err.message).toBe("/etc/ringcast/spread.conf:4: unknown keyword 'Bogus' (see CONFIGURATION.md for the options Ringcast accepts)");
  });

  it('refuses an oversized text with line 0', () => {
    const err = errorOf(`${SEG}${'#'.repeat((1 << 20) + 1)}`);
    expect(err.line).toBe(0);
  });
});
