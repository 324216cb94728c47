import { chmodSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AclWatcher, compileGlob, loadAcl, parseAcl, sendActionFor, sessionIdentity, type AclPolicy } from '../../src/acl/index.js';
import { ConfigError } from '../../src/util/errors.js';

const RULES = `# who may do what
password:admin   *                 allow  *
key:ops-*        join,send         allow  ops-*
*                join              deny   ops-*
password:*       join,send         allow  chat-*
null             send              allow  public
*                send-private      allow  #*#d1
ip:10.0.0.?      join              allow  lab
`;

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'rc-acl-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('glob', () => {
  it('matches whole strings with * ? and escapes', () => {
    expect(compileGlob('chat-*').matches('chat-')).toBe(true);
    expect(compileGlob('chat-*').matches('xchat-a')).toBe(false);
    expect(compileGlob('a?c').matches('abc')).toBe(true);
    expect(compileGlob('a?c').matches('ac')).toBe(false);
    expect(compileGlob('a\\*').matches('a*')).toBe(true);
    expect(compileGlob('a\\*').matches('ab')).toBe(false);
    expect(compileGlob('a.b').matches('axb')).toBe(false);
    expect(compileGlob('*'.repeat(50) + 'x').matches('y'.repeat(5000))).toBe(false);
  });
});

describe('AclPolicy', () => {
  const p: AclPolicy = parseAcl(RULES, 'acl');

  it('allows and denies per rule', () => {
    expect(p.check('password:alice', 'join', 'chat-1')).toBe(true);
    expect(p.check('password:alice', 'send', 'chat-1')).toBe(true);
    expect(p.check('password:alice', 'join', 'other')).toBe(false);
    expect(p.check('null', 'send', 'public')).toBe(true);
    expect(p.check('null', 'join', 'public')).toBe(false);
    expect(p.check('ip:10.0.0.7', 'join', 'lab')).toBe(true);
    expect(p.check('ip:10.0.0.77', 'join', 'lab')).toBe(false);
  });

  it('first match wins', () => {
    // key:ops-* may join ops-* (line 3) before the deny on line 4; password:alice hits the deny.
    expect(p.decide('key:ops-1', 'join', 'ops-room')).toMatchObject({ allowed: true, rule: { origin: 'acl:3' } });
    expect(p.decide('password:alice', 'join', 'ops-room')).toMatchObject({ allowed: false, rule: { origin: 'acl:4' } });
    // admin's allow-all comes first, so the deny does not apply.
    expect(p.check('password:admin', 'join', 'ops-room')).toBe(true);
  });

  it('default deny when no rule matches', () => {
    expect(p.decide('key:guest', 'send', 'x')).toEqual({ allowed: false });
    expect(parseAcl('# empty\n', 'acl').check('password:admin', 'join', 'any')).toBe(false);
  });

  it('names a session by its strongest method', () => {
    expect(sessionIdentity({ keyedIdentity: 'key:ops-1', ipAddress: '10.0.0.7' })).toBe('key:ops-1');
    expect(sessionIdentity({ ipAddress: '10.0.0.7' })).toBe('ip:10.0.0.7');
    expect(sessionIdentity({})).toBe('null');
    expect(p.check(sessionIdentity({ ipAddress: '10.0.0.7' }), 'join', 'lab')).toBe(true);
  });

  it('private groups use send-private', () => {
    expect(sendActionFor('#alice#d1')).toBe('send-private');
    expect(sendActionFor('chat-1')).toBe('send');
    expect(p.check('null', sendActionFor('#alice#d1'), '#alice#d1')).toBe(true);
    expect(p.check('null', sendActionFor('#alice#d2'), '#alice#d2')).toBe(false);
  });

  it('reports file and line for bad rules', () => {
    const bad = (text: string) => {
      try {
        parseAcl(text, 'rules.acl');
      } catch (e) {
        expect(e).toBeInstanceOf(ConfigError);
        return (e as ConfigError).message;
      }
      return 'no error';
    };
    expect(bad('# c\n* join maybe g\n')).toMatch(/^rules\.acl:2: "maybe" must be allow or deny/);
    expect(bad('* leave allow g\n')).toMatch(/^rules\.acl:1: "leave" is not an action/);
    expect(bad('* join allow\n')).toMatch(/^rules\.acl:1: expected 4 fields/);
    expect(bad('alice join allow g\n')).toMatch(/^rules\.acl:1: identity pattern "alice"/);
    expect(bad('* join allow g\\\n')).toMatch(/^rules\.acl:1: .*backslash/);
  });
});

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const start = performance.now();
  while (!cond()) {
    if (performance.now() - start > ms) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('AclWatcher', () => {
  it('loadAcl refuses a file others can write', () => {
    const f = join(dir, 'open.acl');
    writeFileSync(f, RULES);
    chmodSync(f, 0o666);
    expect(() => loadAcl(f)).toThrow(/chmod go-w/);
    chmodSync(f, 0o644);
    expect(loadAcl(f).rules.length).toBe(7);
  });

  it('reloads on change and keeps the old rules when the new file is bad', async () => {
    const f = join(dir, 'live.acl');
    writeFileSync(f, '* join allow a\n', { mode: 0o644 });
    const logs: string[] = [];
    let reloads = 0;
    const w = new AclWatcher(f, { debounceMs: 20, log: (lvl, m) => logs.push(`${lvl}: ${m}`), onReload: () => reloads++ });
    try {
      expect(w.check('null', 'join', 'a')).toBe(true);
      expect(w.check('null', 'join', 'b')).toBe(false);

      // In-place write.
      writeFileSync(f, '* join allow b\n');
      await until(() => w.check('null', 'join', 'b'));
      expect(w.check('null', 'join', 'a')).toBe(false);

      // Replacement by rename (how editors save).
      const tmp = join(dir, 'live.acl.new');
      writeFileSync(tmp, '* join allow c\n', { mode: 0o644 });
      renameSync(tmp, f);
      await until(() => w.check('null', 'join', 'c'));

      // A bad file: the rules of the last good one stay, the error is logged with file:line.
      const before = reloads;
      writeFileSync(f, '* join allow c\n* jump allow d\n');
      await until(() => logs.some((l) => l.startsWith('error:') && l.includes('live.acl:2')));
      expect(w.check('null', 'join', 'c')).toBe(true);
      expect(reloads).toBe(before);
      expect(logs.find((l) => l.startsWith('error:'))).toContain('keeping the previous 1 rules');

      // Fixed again: picked up.
      writeFileSync(f, '* join allow e\n');
      await until(() => w.check('null', 'join', 'e'));
    } finally {
      w.close();
    }
  });

  it('refuses to start on a bad initial file', () => {
    const f = join(dir, 'bad.acl');
    writeFileSync(f, 'nonsense\n', { mode: 0o644 });
    expect(() => new AclWatcher(f)).toThrow(ConfigError);
  });
});
