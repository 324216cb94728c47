import { describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { defaultConfig, loadConfig, parseConfig, unixSocketPathFor } from '../../src/config/index.js';

const confDir = fileURLToPath(new URL('../../conf/', import.meta.url));

describe('parseConfig: Spread-style files', () => {
  it('reads a minimal Spread file with all defaults', () => {
    const cfg = parseConfig('Spread_Segment 127.0.0.255:4803 {\n\tlocalhost\t127.0.0.1\n}\n', 'min.conf');
    expect(cfg.file).toBe('min.conf');
    expect(cfg.segments).toHaveLength(1);
    expect(cfg.segments[0]).toMatchObject({ address: '127.0.0.255', port: 4803, family: 4 });
    expect(cfg.daemons).toHaveLength(1);
    expect(cfg.daemons[0]).toMatchObject({ name: 'localhost', address: '127.0.0.1', family: 4, port: 4803, segment: 0, index: 0, interfaces: [] });
    expect(cfg.daemons[0]?.id).toBe(0x7f000001);
    expect([...cfg.debugFlags].sort()).toEqual(['EXIT', 'PRINT']);
    expect(cfg.eventPriority).toBe('INFO');
    expect(cfg.eventLogFile).toBeUndefined();
    expect(cfg.eventTimeStamp).toBeUndefined();
    expect(cfg.dangerousMonitor).toBe(false);
    expect(cfg.socketPortReuse).toBe('AUTO');
    expect(cfg.runtimeDir).toBe('/var/run/spread');
    expect(cfg.daemonUser).toBe('spread');
    expect(cfg.daemonGroup).toBe('spread');
    expect(cfg.maxSessionMessages).toBe(1000);
    expect(cfg.window).toBe(160);
    expect(cfg.personalWindow).toBe(20);
    expect(cfg.acceleratedWindow).toBe(15);
    expect(cfg.wideAreaNetwork).toBe(false);
    expect(cfg.acceleratedRing).toBe(true);
    expect(cfg.timeouts).toEqual({ tokenMs: 1250, hurryMs: 500, aliveMs: 250, joinMs: 250, repMs: 625, segMs: 500, gatherMs: 1250, formMs: 1250, lookupMs: 30000 });
    expect(cfg.allowedAuthMethods).toEqual(['NULL']);
    expect(cfg.requiredAuthMethods).toEqual([]);
    expect(cfg.accessControlPolicy).toBe('PERMIT');
    expect(cfg.packetBytesMax).toBe(8972); // every daemon on loopback
    expect(cfg.unixSocketPath).toBe('/tmp/%p');
    expect(cfg.cryptoMode).toBe('none');
    expect(cfg.clusterKeyFile).toBeUndefined();
    expect(cfg.accessIpFile).toBeUndefined();
  });

  it('reads several segments with comments everywhere, WAN defaults apply', () => {
    const text = [
      '# Blank lines are permitted in this file.',
      '',
      'Spread_Segment  129.70.255.255:4824 {   # first',
      '\ttwb\t\t129.70.144.53',
      '}',
      'Spread_Segment 129.70.255.255:4824 {',
      '        amiroa          129.70.141.200  # trailing comment',
      '        # a commented daemon 1.2.3.4',
      '}',
      'spread_segment 10.0.0.255 {',
      '  10.0.0.7',
      '}',
    ].join('\n');
    const cfg = parseConfig(text, 'wan.conf');
    expect(cfg.segments.map((s) => [s.address, s.port, s.daemons.length])).toEqual([
      ['129.70.255.255', 4824, 1],
      ['129.70.255.255', 4824, 1],
      ['10.0.0.255', 4803, 1],
    ]);
    expect(cfg.daemons.map((d) => [d.name, d.address, d.segment, d.index, d.port])).toEqual([
      ['twb', '129.70.144.53', 0, 0, 4824],
      ['amiroa', '129.70.141.200', 1, 1, 4824],
      ['10.0.0.7', '10.0.0.7', 2, 2, 4803],
    ]);
    expect(cfg.wideAreaNetwork).toBe(true);
    expect(cfg.acceleratedRing).toBe(false);
    expect(cfg.timeouts).toEqual({ tokenMs: 5000, hurryMs: 1500, aliveMs: 250, joinMs: 250, repMs: 1250, segMs: 500, gatherMs: 2500, formMs: 2500, lookupMs: 45000 });
  });

  it('is free-form: a whole segment on one line, names omitted, no spaces around = or braces', () => {
    const cfg = parseConfig('Spread_Segment 10.1.1.255:5000{a 10.1.1.1 10.1.1.2 b 10.1.1.3}Window=100', 'f.conf');
    expect(cfg.daemons.map((d) => d.name)).toEqual(['a', '10.1.1.2', 'b']);
    expect(cfg.window).toBe(100);
    expect(cfg.segments[0]?.port).toBe(5000);
  });

  it('reads interface blocks: typed, combined and untyped lines', () => {
    const text = `Spread_Segment 192.168.1.255:4803 {
      a 192.168.1.1 {
        D 192.168.1.1
        c 127.0.0.1
        M 10.0.0.1
      }
      b 192.168.1.2 { DC 192.168.1.2 }
      192.168.1.3 { 192.168.1.3 }
      d 192.168.1.4
    }`;
    const cfg = parseConfig(text, 'if.conf');
    const kinds = (i: number) => cfg.daemons[i]?.interfaces.map((x) => [x.address, [...x.kinds].sort().join('')]);
    expect(kinds(0)).toEqual([
      ['192.168.1.1', 'D'],
      ['127.0.0.1', 'C'],
      ['10.0.0.1', 'M'],
    ]);
    expect(kinds(1)).toEqual([['192.168.1.2', 'CD']]);
    expect(kinds(2)).toEqual([['192.168.1.3', 'CDM']]);
    expect(kinds(3)).toEqual([]);
  });

  it('reads IPv6 segments and daemons, bracketed or bare, and normalises the text', () => {
    const text = `Spread_Segment [FF02::1:0]:4900 {
      one 2001:DB8:0:0:0:0:0:1
      two [2001:db8::2]
      three 2001:db8::0003 { C ::1 D 2001:db8::3 }
    }
    Spread_Segment ff02::2 {
      four fe80::1
    }`;
    const cfg = parseConfig(text, 'v6.conf');
    expect(cfg.segments.map((s) => [s.address, s.port, s.family])).toEqual([
      ['ff02::1:0', 4900, 6],
      ['ff02::2', 4803, 6],
    ]);
    expect(cfg.daemons.map((d) => [d.name, d.address, d.family])).toEqual([
      ['one', '2001:db8::1', 6],
      ['two', '2001:db8::2', 6],
      ['three', '2001:db8::3', 6],
      ['four', 'fe80::1', 6],
    ]);
    expect(cfg.daemons[2]?.interfaces.map((i) => i.address)).toEqual(['::1', '2001:db8::3']);
    expect(cfg.packetBytesMax).toBe(1452);
  });

  it('accepts a nameless IPv6 daemon whose address fits in 19 characters', () => {
    const cfg = parseConfig('Spread_Segment [ff02::1]:4803 { 2001:db8::1 }', 'v6.conf');
    expect(cfg.daemons[0]?.name).toBe('2001:db8::1');
  });
});

describe('parseConfig: options', () => {
  const seg = 'Spread_Segment 10.0.0.255:4803 { a 10.0.0.1 b 10.0.0.2 }\n';

  it('reads every Spread option, keywords case-insensitive, values quoted or bare', () => {
    const text = `${seg}
      DEBUGFLAGS = { PRINT EXIT membership !EXIT }
      eventlogfile = "/var/log/spread-%h.log"
      EventTimeStamp = "[%a %d %b %Y %H:%M:%S]"
      EventPriority = warning
      DangerousMonitor = yes
      SocketPortReuse = on
      RuntimeDir = /srv/spread
      DaemonUser = ringcast
      DaemonGroup = "daemon"
      MaxSessionMessages = 5000
      Window = 200
      PersonalWindow = 30
      AcceleratedRing = false
      AcceleratedWindow = 10
      WideAreaNetwork = true
      TokenTimeout = 2000
      HurryTimeout = 600
      AliveTimeout = 300
      JoinTimeout = 300
      RepTimeout = 700
      SegTimeout = 600
      GatherTimeout = 1500
      FormTimeout = 1500
      LookupTimeout = 40000
      AllowedAuthMethods = "NULL IP"
      RequiredAuthMethods = "IP"
      AccessControlPolicy = "PERMIT"
    `;
    const cfg = parseConfig(text, 'opts.conf');
    expect([...cfg.debugFlags].sort()).toEqual(['MEMBERSHIP', 'PRINT']);
    expect(cfg.eventLogFile).toBe('/var/log/spread-%h.log');
    expect(cfg.eventTimeStamp).toBe('[%a %d %b %Y %H:%M:%S]');
    expect(cfg.eventPriority).toBe('WARNING');
    expect(cfg.dangerousMonitor).toBe(true);
    expect(cfg.socketPortReuse).toBe('ON');
    expect(cfg.runtimeDir).toBe('/srv/spread');
    expect(cfg.daemonUser).toBe('ringcast');
    expect(cfg.daemonGroup).toBe('daemon');
    expect(cfg.maxSessionMessages).toBe(5000);
    expect([cfg.window, cfg.personalWindow, cfg.acceleratedWindow]).toEqual([200, 30, 10]);
    expect(cfg.acceleratedRing).toBe(false);
    expect(cfg.wideAreaNetwork).toBe(true);
    expect(cfg.timeouts).toEqual({ tokenMs: 2000, hurryMs: 600, aliveMs: 300, joinMs: 300, repMs: 700, segMs: 600, gatherMs: 1500, formMs: 1500, lookupMs: 40000 });
    expect(cfg.allowedAuthMethods).toEqual(['NULL', 'IP']);
    expect(cfg.requiredAuthMethods).toEqual(['IP']);
    expect(cfg.accessControlPolicy).toBe('PERMIT');
  });

  it('EventTimeStamp alone turns time stamps on with the default format', () => {
    expect(parseConfig(`${seg}EventTimeStamp\nWindow = 10`, 't.conf').eventTimeStamp).toBe('');
    expect(parseConfig(`${seg}EventTimeStamp`, 't.conf').eventTimeStamp).toBe('');
  });

  it('DebugFlags: ALL, NONE and negation apply in order', () => {
    const all = parseConfig(`${seg}DebugFlags = { ALL !MEMORY ! SKIPLIST }`, 'd.conf').debugFlags;
    expect(all.has('MEMORY')).toBe(false);
    expect(all.has('SKIPLIST')).toBe(false);
    expect(all.has('GROUPS')).toBe(true);
    expect(all.has('PRINT')).toBe(true);
    expect([...parseConfig(`${seg}DebugFlags = { ALL NONE EXIT }`, 'd.conf').debugFlags]).toEqual(['EXIT']);
    expect(parseConfig(`${seg}DebugFlags = { }`, 'd.conf').debugFlags.size).toBe(0);
  });

  it('booleans accept true/false, yes/no, on/off in any case', () => {
    for (const [v, b] of [['TRUE', true], ['no', false], ['On', true], ['off', false]] as const) {
      expect(parseConfig(`${seg}DangerousMonitor = ${v}`, 'b.conf').dangerousMonitor).toBe(b);
    }
  });

  it('auth methods follow Spread: the first directive disables NULL, later ones add', () => {
    expect(parseConfig(`${seg}AllowedAuthMethods = "IP"`, 'a.conf').allowedAuthMethods).toEqual(['IP']);
    const reqOnly = parseConfig(`${seg}RequiredAuthMethods = "IP"`, 'a.conf');
    expect(reqOnly.allowedAuthMethods).toEqual([]);
    expect(reqOnly.requiredAuthMethods).toEqual(['IP']);
    const two = parseConfig(`${seg}AllowedAuthMethods = IP\nAllowedAuthMethods = "null ip"`, 'a.conf');
    expect(two.allowedAuthMethods).toEqual(['IP', 'NULL']);
    expect(parseConfig(`${seg}AllowedAuthMethods = ""`, 'a.conf').allowedAuthMethods).toEqual([]);
  });

  it('reads the Ringcast options', () => {
    const cfg = parseConfig(
      `${seg}MaxPacketBytes = 9000\nUnixSocketPath = "/run/ringcast/%n.%p.sock"\nCrypto = Encrypt\nClusterKeyFile = /etc/ringcast/cluster.key\nAccessIpFile = /etc/ringcast/access_ip`,
      'r.conf',
    );
    expect(cfg.packetBytesMax).toBe(9000);
    expect(cfg.unixSocketPath).toBe('/run/ringcast/%n.%p.sock');
    expect(unixSocketPathFor(cfg, cfg.daemons[1]!)).toBe('/run/ringcast/b.4803.sock');
    expect(cfg.cryptoMode).toBe('encrypt');
    expect(cfg.clusterKeyFile).toBe('/etc/ringcast/cluster.key');
    expect(cfg.accessIpFile).toBe('/etc/ringcast/access_ip');
    expect(parseConfig(`${seg}Crypto = integrity\nClusterKeyFile = k`, 'r.conf').cryptoMode).toBe('integrity');
    expect(parseConfig(`${seg}MaxPacketBytes = 65000`, 'r.conf').packetBytesMax).toBe(65000);
  });

  it('window defaults shrink to fit a smaller Window or PersonalWindow', () => {
    const a = parseConfig(`${seg}Window = 10`, 'w.conf');
    expect([a.window, a.personalWindow, a.acceleratedWindow]).toEqual([10, 10, 10]);
    const b = parseConfig(`${seg}PersonalWindow = 5`, 'w.conf');
    expect([b.window, b.personalWindow, b.acceleratedWindow]).toEqual([160, 5, 5]);
  });

  it('WideAreaNetwork chooses the timeout set and the AcceleratedRing default', () => {
    const wan = parseConfig(`${seg}WideAreaNetwork = true`, 'w.conf');
    expect(wan.timeouts.tokenMs).toBe(5000);
    expect(wan.acceleratedRing).toBe(false);
    const twoSegLan = parseConfig(`${seg}Spread_Segment 10.1.0.255 { c 10.1.0.1 }\nWideAreaNetwork = no`, 'w.conf');
    expect(twoSegLan.wideAreaNetwork).toBe(false);
    expect(twoSegLan.timeouts.tokenMs).toBe(1250);
    expect(twoSegLan.acceleratedRing).toBe(true);
  });
});

describe('Unix socket path default', () => {
  it('is /tmp/%p for hosts of a LAN sharing a port', () => {
    const cfg = parseConfig('Spread_Segment 10.0.0.255:4803 { a 10.0.0.1 b 10.0.0.2 }', 'u.conf');
    expect(cfg.unixSocketPath).toBe('/tmp/%p');
    expect(unixSocketPathFor(cfg, cfg.daemons[0]!)).toBe('/tmp/4803');
  });

  it('is /tmp/%p for daemons on one host with distinct ports (Spread layout)', () => {
    const cfg = parseConfig(
      'Spread_Segment 127.0.0.1:4803 { a 127.0.0.1 }\nSpread_Segment 127.0.0.1:4805 { b 127.0.0.1 }',
      'u.conf',
    );
    expect(cfg.unixSocketPath).toBe('/tmp/%p');
    expect(cfg.daemons.map((d) => unixSocketPathFor(cfg, d))).toEqual(['/tmp/4803', '/tmp/4805']);
  });

  it('becomes /tmp/%p-%n for loopback daemons sharing a port', () => {
    const cfg = parseConfig('Spread_Segment 127.255.255.255:4803 { r1 127.0.0.1 r2 127.0.0.2 }', 'u.conf');
    expect(cfg.unixSocketPath).toBe('/tmp/%p-%n');
    expect(cfg.daemons.map((d) => unixSocketPathFor(cfg, d))).toEqual(['/tmp/4803-r1', '/tmp/4803-r2']);
  });

  it('expands %% to a percent sign', () => {
    const cfg = parseConfig('Spread_Segment 10.0.0.255 { a 10.0.0.1 }\nUnixSocketPath = /tmp/100%%-%p', 'u.conf');
    expect(unixSocketPathFor(cfg, cfg.daemons[0]!)).toBe('/tmp/100%-4803');
  });
});

describe('defaultConfig', () => {
  it('is one segment 127.0.0.1:4803 with the daemon localhost 127.0.0.1', () => {
    const cfg = defaultConfig();
    expect(cfg.file).toBeUndefined();
    expect(cfg.segments).toHaveLength(1);
    expect(cfg.segments[0]).toMatchObject({ address: '127.0.0.1', port: 4803, family: 4 });
    expect(cfg.daemons).toHaveLength(1);
    expect(cfg.daemons[0]).toMatchObject({ name: 'localhost', address: '127.0.0.1', id: 0x7f000001, port: 4803, segment: 0, index: 0 });
    expect(cfg.window).toBe(160);
    expect(cfg.wideAreaNetwork).toBe(false);
    expect(unixSocketPathFor(cfg, cfg.daemons[0]!)).toBe('/tmp/4803');
    expect(cfg.hash).toBe(parseConfig('Spread_Segment 127.0.0.1:4803 { localhost 127.0.0.1 }', 'x').hash);
  });

  it('returns a fresh object each time', () => {
    const a = defaultConfig();
    a.daemons.pop();
    expect(defaultConfig().daemons).toHaveLength(1);
  });
});

describe('sample files in conf/', () => {
  it('conf/spread.conf is a valid 3-daemon LAN', () => {
    const cfg = loadConfig(`${confDir}spread.conf`);
    expect(cfg.segments).toHaveLength(1);
    expect(cfg.daemons.map((d) => d.name)).toEqual(['alpha', 'beta', 'gamma']);
    expect(cfg.wideAreaNetwork).toBe(false);
    expect(cfg.daemons[2]?.interfaces.length).toBeGreaterThan(0);
    expect(unixSocketPathFor(cfg, cfg.daemons[0]!)).toBe('/tmp/4803');
  });

  it('conf/loopback-3.conf has 127.0.0.1-3 in one segment on port 4803 with per-daemon sockets', () => {
    const cfg = loadConfig(`${confDir}loopback-3.conf`);
    expect(cfg.segments).toHaveLength(1);
    expect(cfg.daemons.map((d) => [d.address, d.port])).toEqual([
      ['127.0.0.1', 4803],
      ['127.0.0.2', 4803],
      ['127.0.0.3', 4803],
    ]);
    expect(cfg.daemons.map((d) => d.id)).toEqual([0x7f000001, 0x7f000002, 0x7f000003]);
    const paths = cfg.daemons.map((d) => unixSocketPathFor(cfg, d));
    expect(new Set(paths).size).toBe(3);
  });
});

describe('MaxPacketBytes default', () => {
  it('is 1472 (a 1500-byte MTU) as soon as one daemon is off loopback, 1452 with IPv6, 8972 on loopback only', () => {
    expect(parseConfig('Spread_Segment 10.0.0.255:4803 {\n a 10.0.0.1\n b 127.0.0.2\n}\n', 'lan.conf').packetBytesMax).toBe(1472);
    expect(parseConfig('Spread_Segment [ff02::1]:4803 {\n a fe80::1\n}\n', 'v6.conf').packetBytesMax).toBe(1452);
    expect(parseConfig('Spread_Segment 127.255.255.255:4803 {\n a 127.0.0.1\n b 127.0.0.2\n}\n', 'lo.conf').packetBytesMax).toBe(8972);
    expect(parseConfig('Spread_Segment 127.255.255.255:4803 {\n a 127.0.0.1\n}\nMaxPacketBytes = 1400\n', 'set.conf').packetBytesMax).toBe(1400);
  });
});
