/**
 * Helpers for the end-to-end authentication tests: credential files for a daemon, a TCP proxy that
 * records (and can alter) what crosses it, and a raw handshake client.
 */
import { chmodSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import {
  formatAuthorizedKeyLine,
  generateClientKeyPair,
  initSessionCrypto,
  SCRYPT_PRODUCTION,
  type ClientKeyPair,
} from '../../crypto/session/index.js';
import { setPassword } from '../../src/cli/passwd-command.js';
import { connect, type Received, type SpreadConnection } from '../../src/client/index.js';

export const ALICE_PASSWORD = 'Corr3ct-H0rse-Battery';

export interface Credentials {
  passwordFile: string;
  authorizedKeysFile: string;
  accessIpFile: string;
  /** Listed in the authorized keys as `ops`. */
  opsKey: ClientKeyPair;
  /** Not listed anywhere. */
  strangerKey: ClientKeyPair;
}

/** A verifier file with alice (production scrypt parameters), authorized keys with `ops`, an IP list with 127.0.0.1. */
export async function writeCredentials(dir: string): Promise<Credentials> {
  await initSessionCrypto();
  const passwordFile = path.join(dir, 'passwd');
  await setPassword({ file: passwordFile, user: 'alice', password: ALICE_PASSWORD, params: SCRYPT_PRODUCTION });
  chmodSync(passwordFile, 0o600);
  const opsKey = generateClientKeyPair();
  const strangerKey = generateClientKeyPair();
  const authorizedKeysFile = path.join(dir, 'authorized_keys');
  writeFileSync(authorizedKeysFile, `# test keys\n${formatAuthorizedKeyLine('ops', opsKey.publicKey)}\n`, { mode: 0o644 });
  const accessIpFile = path.join(dir, 'access_ip');
  writeFileSync(accessIpFile, '127.0.0.1\n', { mode: 0o644 });
  return { passwordFile, authorizedKeysFile, accessIpFile, opsKey, strangerKey };
}

export interface ProxiedConnection {
  /** Bytes the client sent, in order, as they crossed the proxy. */
  readonly fromClient: Buffer[];
  readonly fromDaemon: Buffer[];
}

/**
 * A TCP proxy in front of a daemon. `alter`, when set, sees each client→daemon chunk and returns
 * what to forward instead (one or more chunks); it is cleared after one use.
 */
export class TcpProxy {
  readonly connections: ProxiedConnection[] = [];
  alter: ((chunk: Buffer) => Buffer[]) | undefined;
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();

  private constructor(private readonly targetPort: number) {
    this.server = net.createServer((client) => {
      const rec: ProxiedConnection = { fromClient: [], fromDaemon: [] };
      this.connections.push(rec);
      const upstream = net.connect({ host: '127.0.0.1', port: this.targetPort });
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('error', () => {
          client.destroy();
          upstream.destroy();
        });
        s.on('close', () => this.sockets.delete(s));
      }
      client.on('data', (c: Buffer) => {
        rec.fromClient.push(Buffer.from(c));
        const alter = this.alter;
        this.alter = undefined;
        for (const out of alter ? alter(c) : [c]) upstream.write(out);
      });
      upstream.on('data', (c: Buffer) => {
        rec.fromDaemon.push(Buffer.from(c));
        client.write(c);
      });
      client.on('end', () => upstream.end());
      upstream.on('end', () => client.end());
      upstream.on('close', () => client.destroy());
      client.on('close', () => upstream.destroy());
    });
  }

  static async start(targetPort: number): Promise<TcpProxy> {
    const p = new TcpProxy(targetPort);
    await new Promise<void>((r) => p.server.listen(0, '127.0.0.1', r));
    return p;
  }

  get address(): string {
    return `${(this.server.address() as net.AddressInfo).port}@127.0.0.1`;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

/**
 * The client's handshake bytes through the end of its ClientProof: connect request, the 90-byte
 * choice, then method records `u8 kind | u16 length | body` up to and including kind 3.
 */
export function clientHandshakePrefix(captured: Buffer): Buffer {
  const nameLen = captured[4]!;
  let off = 5 + nameLen + 90;
  for (;;) {
    if (off + 3 > captured.length) throw new Error('capture ends inside the handshake');
    const kind = captured[off]!;
    const len = captured.readUInt16BE(off + 1);
    off += 3 + len;
    if (kind === 3) return captured.subarray(0, off);
  }
}

/** Writes `bytes` on a fresh TCP connection and collects everything the daemon sends until it closes (bounded). */
export async function rawExchange(port: number, bytes: Buffer, timeoutMs = 5000): Promise<{ received: Buffer; closed: boolean }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const s = net.connect({ host: '127.0.0.1', port }, () => s.write(bytes));
    const timer = setTimeout(() => {
      s.destroy();
      resolve({ received: Buffer.concat(chunks), closed: false });
    }, timeoutMs);
    s.on('data', (c) => chunks.push(c));
    s.on('error', () => undefined);
    s.on('close', () => {
      clearTimeout(timer);
      resolve({ received: Buffer.concat(chunks), closed: true });
    });
  });
}

/** Waits (bounded) for the next message that `match` accepts; others are skipped. */
export async function receiveMatching(conn: SpreadConnection, match: (m: Received) => boolean, timeoutMs = 5000): Promise<Received> {
  const signal = AbortSignal.timeout(timeoutMs);
  for (;;) {
    const m = await conn.receive({ signal });
    if (match(m)) return m;
  }
}

/** A session that joins `group` and checks that its own multicast comes back: the daemon serves it. */
export async function roundTrip(conn: SpreadConnection, group: string, text: string): Promise<void> {
  await conn.multicast('AGREED', group, text);
  const m = await receiveMatching(conn, (r) => r.kind === 'data' && Buffer.from(r.data).toString() === text);
  if (m.kind !== 'data') throw new Error('unexpected message');
}

/** Opens a NULL session over the Unix socket and joins `group`. */
export async function bystander(socketPath: string, group: string): Promise<SpreadConnection> {
  const c = await connect(socketPath, { name: 'bystander' });
  await c.join(group);
  await receiveMatching(c, (m) => m.kind === 'membership' && m.group === group);
  return c;
}

/** Every encoding a careless implementation might put a password on the wire in. */
export function passwordEncodings(password: string): Buffer[] {
  return [
    Buffer.from(password, 'utf8'),
    Buffer.from(password, 'utf16le'),
    Buffer.from(password, 'latin1'),
    Buffer.from(password.normalize('NFD'), 'utf8'),
    Buffer.from(Buffer.from(password).toString('base64')),
    Buffer.from(Buffer.from(password).toString('hex')),
  ];
}
