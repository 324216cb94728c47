/** The configuration options of session authentication, access control and the hardened daemon. */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig, parseConfig } from '../../src/config/index.js';
import { REPO_ROOT } from '../helpers/daemons.js';

const seg = 'Spread_Segment 127.0.0.1:4803 {\n  d1 127.0.0.1\n}\n';

describe('authentication and hardening options', () => {
  it('defaults: NULL everywhere, but not from the network over TCP; chroot required; root refused', () => {
    const c = parseConfig(seg, 'a.conf');
    expect(c.tcpAuth).toEqual({ allowed: ['NULL'], required: [] });
    expect(c.unixAuth).toEqual({ allowed: ['NULL'], required: [] });
    expect(c.nullAuthFromNetwork).toBe(false);
    expect(c.chroot).toBe('required');
    expect(c.allowRunAsRoot).toBe(false);
    expect(c.authHandshakeTimeoutMs).toBe(10_000);
    expect(c.passwordFile).toBeUndefined();
    expect(c.accessControlFile).toBeUndefined();
  });

  it('per-listener lists replace the global ones for that listener only', () => {
    const c = parseConfig(
      `${seg}AllowedAuthMethods = "NULL IP"\nRequiredAuthMethods = "IP"\nTcpAllowedAuthMethods = "rc-password RC-PUBKEY"\nUnixRequiredAuthMethods = ""\nPasswordFile = /etc/p\nAuthorizedKeysFile = /etc/k\n`,
      'a.conf',
    );
    expect(c.tcpAuth).toEqual({ allowed: ['RC-PASSWORD', 'RC-PUBKEY'], required: ['IP'] });
    expect(c.unixAuth).toEqual({ allowed: ['NULL', 'IP'], required: [] });
    expect(c.nullAuthFromNetwork).toBe(false);
    expect(parseConfig(`${seg}TcpAllowedAuthMethods = "NULL"\n`, 'a.conf').nullAuthFromNetwork).toBe(true);
  });

  it('refuses keyed methods without their files, two required keyed methods, relative paths, bad values', () => {
    expect(() => parseConfig(`${seg}AllowedAuthMethods = "RC-PASSWORD"\n`, 'a.conf')).toThrow(/a\.conf:4: RC-PASSWORD is enabled but no PasswordFile/);
    expect(() => parseConfig(`${seg}UnixAllowedAuthMethods = "RC-PUBKEY"\n`, 'a.conf')).toThrow(/a\.conf:4: RC-PUBKEY is enabled but no AuthorizedKeysFile/);
    expect(() => parseConfig(`${seg}RequiredAuthMethods = "RC-PASSWORD RC-PUBKEY"\nPasswordFile = /p\nAuthorizedKeysFile = /k\n`, 'a.conf')).toThrow(/cannot both be required/);
    expect(() => parseConfig(`${seg}PasswordFile = etc/p\n`, 'a.conf')).toThrow(/PasswordFile must be an absolute path/);
    expect(() => parseConfig(`${seg}Chroot = maybe\n`, 'a.conf')).toThrow(/Chroot must be one of required, if-available, off/);
    expect(() => parseConfig(`${seg}AuthHandshakeTimeout = 5\n`, 'a.conf')).toThrow(/out of range/);
    expect(() => parseConfig(`${seg}TcpAllowedAuthMethods = "PWORD"\n`, 'a.conf')).toThrow(/unknown authentication method 'PWORD'/);
    expect(() => parseConfig(`${seg}TcpAllowedAuthMethods = "NULL"\nTcpAllowedAuthMethods = "IP"\n`, 'a.conf')).toThrow(/given twice/);
  });

  it('reads Chroot, AllowRunAsRoot, AuthHandshakeTimeout and AccessControlFile', () => {
    const c = parseConfig(`${seg}Chroot = if-available\nAllowRunAsRoot = yes\nAuthHandshakeTimeout = 2500\nAccessControlFile = /etc/ringcast/access.acl\n`, 'a.conf');
    expect(c).toMatchObject({ chroot: 'if-available', allowRunAsRoot: true, authHandshakeTimeoutMs: 2500, accessControlFile: '/etc/ringcast/access.acl' });
  });

  it('conf/hardened.conf loads: keyed methods only on TCP, NULL kept on the Unix socket', () => {
    const c = loadConfig(path.join(REPO_ROOT, 'conf/hardened.conf'));
    expect(c.tcpAuth.allowed).toEqual(['RC-PASSWORD', 'RC-PUBKEY']);
    expect(c.unixAuth.allowed).toEqual(['NULL', 'RC-PASSWORD', 'RC-PUBKEY']);
    expect(c).toMatchObject({ chroot: 'required', allowRunAsRoot: false, cryptoMode: 'encrypt', daemonUser: 'ringcast', runtimeDir: '/run/ringcast' });
    expect(c.accessControlFile).toBe('/etc/ringcast/access.acl');
  });
});
