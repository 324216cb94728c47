/**
 * Group access control in a real ringcastd: allowed joins and sends go through; a refused join or
 * send (to a group or a private group) comes back as REJECT_MESS, is logged with identity and
 * group, and nothing reaches the group; a changed rules file takes effect without a restart.
 */
import { renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initSessionCrypto, passwordAuthMethod, pubkeyAuthMethod } from '../../crypto/session/index.js';
import { connect, type Received, type RejectMessage, type SpreadConnection } from '../../src/client/index.js';
import { MessageType } from '../../src/session/index.js';
import { tempDir } from '../helpers/daemons.js';
import { startSingleDaemon, waitForLog, type SingleDaemon } from '../helpers/single-daemon.js';
import { ALICE_PASSWORD, receiveMatching, writeCredentials, type Credentials } from './helpers.js';

const RULES = `# test rules
key:ops              *                  allow    *
password:alice       join,send          allow    chat-*
password:alice       send-private       allow    #ops#*
null                 join,send          allow    public
*                    *                  deny     *
`;

let d: SingleDaemon;
let creds: Credentials;
let files: { dir: string; cleanup: () => void };
let aclFile: string;
let ops: SpreadConnection;
let alice: SpreadConnection;
let anon: SpreadConnection;

function writeRules(text: string): void {
  // As an editor saves: a new file renamed over the old one.
  const tmp = `${aclFile}.new`;
  writeFileSync(tmp, text, { mode: 0o644 });
  renameSync(tmp, aclFile);
}

beforeAll(async () => {
  await initSessionCrypto();
  files = tempDir('ringcast-acl-');
  creds = await writeCredentials(files.dir);
  aclFile = path.join(files.dir, 'access.acl');
  writeRules(RULES);
  d = await startSingleDaemon({
    extraConfig: [
      'AllowedAuthMethods = "NULL RC-PASSWORD RC-PUBKEY"',
      `PasswordFile = ${creds.passwordFile}`,
      `AuthorizedKeysFile = ${creds.authorizedKeysFile}`,
      `AccessControlFile = ${aclFile}`,
    ].join('\n'),
  });
  ops = await connect(d.tcpAddress, { name: 'ops', authMethods: [pubkeyAuthMethod(creds.opsKey)] });
  alice = await connect(d.tcpAddress, { name: 'alice', authMethods: [passwordAuthMethod({ user: 'alice', password: ALICE_PASSWORD })] });
  anon = await connect(d.socketPath, { name: 'anon' });
  await ops.join('secret');
  await receiveMatching(ops, (m) => m.kind === 'membership' && m.group === 'secret');
});

afterAll(async () => {
  for (const c of [ops, alice, anon]) await c?.disconnect().catch(() => undefined);
  await d?.stop();
  files?.cleanup();
});

/** Everything `conn` receives up to and including its own marker multicast to `group`. */
async function until(conn: SpreadConnection, group: string, marker: string): Promise<Received[]> {
  await conn.multicast('AGREED', group, marker);
  const seen: Received[] = [];
  await receiveMatching(conn, (m) => {
    seen.push(m);
    return m.kind === 'data' && Buffer.from(m.data).toString() === marker;
  });
  return seen;
}

function isReject(m: Received): m is RejectMessage {
  return m.kind === 'reject';
}

describe('access control', () => {
  it('allows a permitted join and send', async () => {
    await alice.join('chat-1');
    await receiveMatching(alice, (m) => m.kind === 'membership' && m.group === 'chat-1');
    const seen = await until(alice, 'chat-1', 'alice in chat');
    expect(seen.filter(isReject)).toEqual([]);
  });

  it('refuses a join with REJECT_MESS, logs identity and group, and the group sees no member arrive', async () => {
    await alice.join('secret');
    const r = await receiveMatching(alice, (m) => m.kind === 'reject');
    expect(r).toMatchObject({ kind: 'reject', originalType: MessageType.CAUSED_BY_JOIN, groups: ['secret', '#alice#d1'] });
    expect(await waitForLog(d.daemon, /access control: session #alice#d1 \(.*identity password:alice\) may not join group "secret" \(rule .*access\.acl:6\)/)).toBeDefined();
    const seen = await until(ops, 'secret', 'ops marker 1');
    expect(seen.filter((m) => m.kind === 'membership')).toEqual([]);
  });

  it('refuses a send with REJECT_MESS, and nothing reaches the group', async () => {
    await alice.multicast('AGREED', 'secret', 'leak attempt', { messType: 7 });
    const r = await receiveMatching(alice, (m) => m.kind === 'reject');
    expect(r).toMatchObject({ kind: 'reject', messType: 7, groups: ['secret', '#alice#d1'] });
    expect(Buffer.from((r as RejectMessage).data).toString()).toBe('leak attempt');
    expect(await waitForLog(d.daemon, /identity password:alice\) may not send group "secret"/)).toBeDefined();
    // A message to several groups is refused whole: chat-1 (allowed) gets nothing of it either.
    await alice.multicast('AGREED', ['chat-1', 'secret'], 'two groups');
    await receiveMatching(alice, (m) => m.kind === 'reject' && Buffer.from(m.data).toString() === 'two groups');
    const seenOps = await until(ops, 'secret', 'ops marker 2');
    expect(seenOps.filter((m) => m.kind === 'data').map((m) => Buffer.from((m as { data: Uint8Array }).data).toString())).toEqual(['ops marker 2']);
    const seenAlice = await until(alice, 'chat-1', 'alice marker');
    expect(seenAlice.filter((m) => m.kind === 'data').map((m) => Buffer.from((m as { data: Uint8Array }).data).toString())).toEqual(['alice marker']);
  });

  it('private-group sends need send-private: allowed for alice to ops, refused for the null identity', async () => {
    await alice.multicast('AGREED', ops.privateGroup, 'direct to ops');
    await receiveMatching(ops, (m) => m.kind === 'data' && Buffer.from(m.data).toString() === 'direct to ops');
    await anon.multicast('AGREED', ops.privateGroup, 'anonymous');
    const r = await receiveMatching(anon, (m) => m.kind === 'reject');
    expect(r).toMatchObject({ groups: [ops.privateGroup, anon.privateGroup] });
    expect(await waitForLog(d.daemon, /identity null\) may not send-private group "#ops#d1"/)).toBeDefined();
    const seen = await until(ops, ops.privateGroup, 'ops marker 3');
    expect(seen.filter((m) => m.kind === 'data').map((m) => Buffer.from((m as { data: Uint8Array }).data).toString())).toEqual(['ops marker 3']);
    // The null identity may still use what the rules give it.
    await anon.join('public');
    await receiveMatching(anon, (m) => m.kind === 'membership' && m.group === 'public');
  });

  it('a changed rules file takes effect without a restart', async () => {
    const before = d.daemon.output().length;
    writeRules(RULES.replace('password:alice       join,send          allow    chat-*', 'password:alice       join,send          allow    *'));
    expect(await waitForLog(d.daemon, /access control: loaded 5 rules/, 5000, before)).toBeDefined();
    await alice.join('secret');
    await receiveMatching(alice, (m) => m.kind === 'membership' && m.group === 'secret');
    await receiveMatching(ops, (m) => m.kind === 'membership' && m.group === 'secret' && m.changed === alice.privateGroup);
    // A file that does not load leaves the rules in force.
    const mark = d.daemon.output().length;
    writeRules('this is not a rule\n');
    expect(await waitForLog(d.daemon, /keeping the previous 5 rules/, 5000, mark)).toBeDefined();
    await alice.multicast('AGREED', 'secret', 'now allowed');
    await receiveMatching(ops, (m) => m.kind === 'data' && Buffer.from(m.data).toString() === 'now allowed');
  });
});
