/**
 * The integration the session layer is meant to do, end to end: the daemon's ClientSession machine
 * with an RC-PASSWORD or RC-PUBKEY step driven by pumpServerAuth, keyed framing after it (the accept
 * record is the first sealed frame), and the client side driven by a KeyedClientMethod.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import {
  formatAuthorizedKeyLine,
  generateClientKeyPair,
  createServerAuth,
  initSessionCrypto,
  keyedMethodOf,
  KeyedStreamDecoder,
  parseAuthorizedKeys,
  passwordAuthMethod,
  passwordBytes,
  pubkeyAuthMethod,
  pumpServerAuth,
  saltedPasswordSync,
  sealFrame,
  verifierFromSaltedPassword,
  type ExactChannel,
  type KeyedClientMethod,
  type ServerAuth,
  type SessionKeys,
} from '../../crypto/session/index.js';
import { ClientSession, type SessionRequest } from '../../src/session/machine.js';
import { encodeAuthChoice, encodeConnectRequest, encodeMessage, MessageType } from '../../src/session/index.js';
import { randomBytes } from './helpers.js';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { connect as clientConnect } from '../../src/client/index.js';

const PARAMS = { logN: 10, r: 8, p: 1 };

beforeAll(async () => {
  await initSessionCrypto();
});

/** The daemon adapter: plain bytes until the keyed method succeeds, sealed frames afterwards. */
class DaemonSide {
  readonly session: ClientSession;
  readonly requests: SessionRequest[] = [];
  identity: string | undefined;
  private auth: ServerAuth | undefined;
  private keys: SessionKeys | undefined;
  private decoder: KeyedStreamDecoder | undefined;
  constructor(
    private readonly toClient: (b: Uint8Array) => void,
    ctx: Parameters<typeof createServerAuth>[1],
  ) {
    this.session = new ClientSession({
      daemonName: 'd1',
      allowedAuthMethods: ['RC-PASSWORD', 'RC-PUBKEY'],
      requiredAuthMethods: [],
      peer: { kind: 'tcp', address: '192.0.2.7' },
      tryReserveName: () => true,
      assignName: () => 'r1',
      authenticate: (methods) => {
        const keyed = keyedMethodOf(methods);
        if (!keyed) return 'denied';
        this.auth = createServerAuth(keyed, ctx);
        return 'pending';
      },
    });
  }

  fromClient(bytes: Uint8Array): void {
    if (this.decoder) {
      this.decoder.push(bytes);
      for (let pt = this.decoder.next(); pt; pt = this.decoder.next()) this.session.receive(pt);
    } else {
      this.session.receive(bytes);
      if (this.session.authPending && this.auth) {
        const r = pumpServerAuth(this.auth, { read: (n) => this.session.authRead(n), write: (b) => this.session.authWrite(b) });
        this.flush();
        if (r.status === 'accepted' && this.session.bufferedBytes() > 0) {
          // Bytes after ClientProof arrived in clear before the keys existed: a client waits for the
          // sealed accept, so these can only be injected. Running them would execute unauthenticated
          // records under the new identity.
          this.session.authResult(false);
        } else if (r.status === 'accepted') {
          // Everything before this point went out in clear (ServerFinal included); from here on, sealed.
          this.identity = r.identity;
          this.keys = r.keys;
          this.decoder = new KeyedStreamDecoder(r.keys.receive);
          this.session.authResult(true);
        } else if (r.status === 'rejected') {
          this.session.authResult(false);
        }
      }
    }
    this.flush();
    for (let q = this.session.pollRequest(); q; q = this.session.pollRequest()) this.requests.push(q);
  }

  private flush(): void {
    for (let out = this.session.pollOutput(); out; out = this.session.pollOutput()) this.toClient(this.keys ? sealFrame(this.keys, out) : out);
  }
}

function link(ctx: Parameters<typeof createServerAuth>[1]): { daemon: DaemonSide; channel: ExactChannel; inbox: () => Buffer; send: (b: Uint8Array) => void } {
  let inbox = Buffer.alloc(0);
  const daemon = new DaemonSide((b) => (inbox = Buffer.concat([inbox, b])), ctx);
  const channel: ExactChannel = {
    async write(b) {
      daemon.fromClient(b);
    },
    async read(n) {
      if (inbox.length < n) throw new Error(`client wanted ${n} bytes, daemon sent ${inbox.length}`);
      const out = new Uint8Array(inbox.subarray(0, n));
      inbox = inbox.subarray(n);
      return out;
    },
  };
  return { daemon, channel, inbox: () => inbox, send: (b) => daemon.fromClient(b) };
}

async function connect(method: KeyedClientMethod, ctx: Parameters<typeof createServerAuth>[1]) {
  const l = link(ctx);
  await l.channel.write(encodeConnectRequest({ major: 5, minor: 0, patch: 1, membership: true, priority: 0, name: 'alice' }));
  const len = (await l.channel.read(1))[0]!;
  const list = Buffer.from(await l.channel.read(len)).toString('latin1').trim().split(' ');
  expect(list).toEqual(['RC-PASSWORD', 'RC-PUBKEY']);
  await l.channel.write(encodeAuthChoice([method.name]));
  const session = await method.exchange({ channel: l.channel });
  return { l, session };
}

describe('keyed session through the daemon session machine', () => {
  const salt = randomBytes(16);
  const verifier = verifierFromSaltedPassword('alice', PARAMS, salt, saltedPasswordSync(passwordBytes('s3cret'), salt, PARAMS));
  const passwords = { lookup: (u: string) => (u === 'alice' ? verifier : undefined), decoySecret: randomBytes(32) };

  it('RC-PASSWORD: accept arrives sealed, a sealed JOIN becomes a join request, identity known', async () => {
    const { l, session } = await connect(passwordAuthMethod({ user: 'alice', password: 's3cret', scryptMinimum: PARAMS }), { daemonName: 'd1', randomBytes, passwords });
    expect(l.daemon.identity).toBe('password:alice');
    const [acceptRecord, ...more] = session.transport.open(l.inbox());
    expect(more).toEqual([]);
    const accept = Buffer.from(acceptRecord!);
    expect([...accept.subarray(0, 5)]).toEqual([1, 5, 0, 1, 9]);
    expect(accept.subarray(5).toString('latin1')).toBe('#alice#d1');
    l.send(session.transport.seal(encodeMessage({ type: MessageType.JOIN_MESS, sender: '#alice#d1', groups: ['chat'], data: new Uint8Array(0) })));
    expect(l.daemon.requests).toEqual([{ kind: 'join', group: 'chat' }]);
  });

  it('RC-PASSWORD: plaintext records injected right after the proof are refused, not run', async () => {
    const l = link({ daemonName: 'd1', randomBytes, passwords });
    await l.channel.write(encodeConnectRequest({ major: 5, minor: 0, patch: 1, membership: true, priority: 0, name: 'alice' }));
    await l.channel.read(1 + 'RC-PASSWORD RC-PUBKEY '.length);
    await l.channel.write(encodeAuthChoice(['RC-PASSWORD']));
    const forgedJoin = encodeMessage({ type: MessageType.JOIN_MESS, sender: '#alice#d1', groups: ['secret'], data: new Uint8Array(0) });
    // A channel that appends the forged record to the client's ClientProof, as an attacker on the path would.
    const injecting: ExactChannel = {
      write: async (b) => l.send(b[0] === 0x03 ? Buffer.concat([b, forgedJoin]) : b),
      read: (n) => l.channel.read(n),
    };
    // The client saw a valid ServerFinal; what follows is the reject byte, not a sealed accept, and the connection closes.
    await passwordAuthMethod({ user: 'alice', password: 's3cret', scryptMinimum: PARAMS }).exchange({ channel: injecting });
    expect([...l.inbox()]).toEqual([0xf7]);
    expect(l.daemon.session.state).toBe('closed');
    expect(l.daemon.session.closeReason).toMatchObject({ kind: 'rejected', code: -9 });
    expect(l.daemon.requests).toEqual([]);
    expect(l.daemon.identity).toBeUndefined();
  });

  it('RC-PASSWORD: a wrong password ends in the Spread reject byte', async () => {
    await expect(connect(passwordAuthMethod({ user: 'alice', password: 'guess', scryptMinimum: PARAMS }), { daemonName: 'd1', randomBytes, passwords })).rejects.toMatchObject({
      code: 'REJECT_AUTH',
      spreadCode: -9,
    });
  });

  it('RC-PUBKEY: a plaintext record after the handshake kills the keyed stream', async () => {
    const kp = generateClientKeyPair();
    const authorizedKeys = parseAuthorizedKeys(formatAuthorizedKeyLine('ops', kp.publicKey), 'ak');
    const { l, session } = await connect(pubkeyAuthMethod(kp), { daemonName: 'd1', randomBytes, authorizedKeys: { lookup: (k) => authorizedKeys.lookup(k) } });
    expect(l.daemon.identity).toBe('key:ops');
    expect(session.daemonName).toBe('d1');
    expect(() => l.send(encodeMessage({ type: MessageType.JOIN_MESS, sender: '#alice#d1', groups: ['chat'], data: new Uint8Array(0) }))).toThrow(/keyed frame/);
    expect(l.daemon.requests).toEqual([]);
  });
});

describe('the client library over TCP with a keyed method', () => {
  it('connects with passwordAuthMethod, joins a group through the sealed stream', async () => {
    const salt = randomBytes(16);
    const verifier = verifierFromSaltedPassword('bob', PARAMS, salt, saltedPasswordSync(passwordBytes('pw'), salt, PARAMS));
    const daemons: DaemonSide[] = [];
    const server: Server = createServer((sock) => {
      const d = new DaemonSide((b) => sock.write(b), { daemonName: 'd1', randomBytes, passwords: { lookup: (u) => (u === 'bob' ? verifier : undefined), decoySecret: randomBytes(32) } });
      daemons.push(d);
      sock.on('data', (b) => {
        try {
          d.fromClient(b);
        } catch {
          sock.destroy();
        }
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const port = (server.address() as AddressInfo).port;
      const conn = await clientConnect(`${port}@127.0.0.1`, { name: 'bob', authMethods: [passwordAuthMethod({ user: 'bob', password: 'pw', scryptMinimum: PARAMS })], timeoutMs: 5000 });
      expect(conn.privateGroup).toBe('#bob#d1');
      await conn.join('chat');
      const start = performance.now();
      while (daemons[0]!.requests.length === 0 && performance.now() - start < 5000) await new Promise((r) => setTimeout(r, 10));
      expect(daemons[0]!.identity).toBe('password:bob');
      expect(daemons[0]!.requests).toEqual([{ kind: 'join', group: 'chat' }]);
      await conn.disconnect();
      expect(daemons[0]!.requests.at(-1)).toEqual({ kind: 'kill' });
    } finally {
      server.close();
    }
  });
});
