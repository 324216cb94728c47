/**
 * A tiny single-daemon Spread server for tool tests: the 5.0.1 handshake with NULL
 * authentication, joins and leaves with lightweight membership messages, multicast to groups
 * and private groups, KILL and EOF as disconnects. Total order is trivially the arrival order.
 */
import net from 'node:net';
import {
  encodeAccept,
  encodeAuthList,
  encodeMessage,
  encodeRegMembBody,
  MessageReader,
  MessageType,
  privateGroupName,
} from '../../src/session/index.js';

const DAEMON = 'd1';

interface Session {
  socket: net.Socket;
  privateGroup: string;
  membership: boolean;
}

export interface MiniDaemon {
  port: number;
  /** Multicast messages received from clients so far. */
  multicasts(): number;
  close(): Promise<void>;
}

export async function startMiniDaemon(): Promise<MiniDaemon> {
  const sessions = new Set<Session>();
  const groups = new Map<string, { members: Session[]; index: number }>();
  let assigned = 0;
  let multicasts = 0;

  const send = (s: Session, bytes: Buffer): void => {
    if (!s.socket.destroyed) s.socket.write(bytes);
  };

  const announce = (name: string, cause: number, changed: string): void => {
    const g = groups.get(name);
    if (!g) return;
    g.index++;
    const names = g.members.map((m) => m.privateGroup).sort();
    const body = encodeRegMembBody({ procId: 1, time: 1, index: g.index }, [[changed]], 0);
    const frame = encodeMessage({ type: MessageType.REG_MEMB_MESS | cause, sender: name, groups: names, data: body });
    for (const m of g.members) if (m.membership) send(m, frame);
  };

  const drop = (s: Session): void => {
    if (!sessions.delete(s)) return;
    for (const [name, g] of groups) {
      const i = g.members.indexOf(s);
      if (i < 0) continue;
      g.members.splice(i, 1);
      announce(name, MessageType.CAUSED_BY_DISCONNECT, s.privateGroup);
      if (g.members.length === 0) groups.delete(name);
    }
    s.socket.end();
  };

  const server = net.createServer((socket) => {
    socket.on('error', () => {});
    let buf = Buffer.alloc(0);
    let stage: 'connect' | 'choice' | 'messages' = 'connect';
    let session: Session | undefined;
    let flags = 0;
    const reader = new MessageReader({ direction: 'client-to-daemon' });
    socket.on('data', (chunk: Buffer) => {
      if (stage === 'messages') {
        reader.push(chunk);
      } else {
        buf = Buffer.concat([buf, chunk]);
        if (stage === 'connect') {
          if (buf.length < 5 || buf.length < 5 + buf[4]!) return;
          flags = buf[3]!;
          const name = buf.subarray(5, 5 + buf[4]!).toString('latin1') || `r${++assigned}`;
          buf = buf.subarray(5 + buf[4]!);
          if ([...sessions].some((s) => s.privateGroup === privateGroupName(name, DAEMON))) {
            socket.end(Buffer.from([0xfa]));
            return;
          }
          session = { socket, privateGroup: privateGroupName(name, DAEMON), membership: (flags & 1) === 1 };
          socket.write(encodeAuthList(['NULL']));
          stage = 'choice';
        }
        if (stage === 'choice') {
          if (buf.length < 90) return;
          reader.push(buf.subarray(90));
          sessions.add(session!);
          socket.write(encodeAccept({ major: 5, minor: 0, patch: 1, privateGroup: session!.privateGroup }));
          stage = 'messages';
        }
      }
      const s = session!;
      for (let m = reader.next(); m; m = reader.next()) {
        const t = m.header.type;
        const group = m.groups[0] ?? '';
        if (t & MessageType.JOIN_MESS) {
          const g = groups.get(group) ?? { members: [], index: 0 };
          groups.set(group, g);
          if (!g.members.includes(s)) {
            g.members.push(s);
            announce(group, MessageType.CAUSED_BY_JOIN, s.privateGroup);
          }
        } else if (t & MessageType.LEAVE_MESS) {
          const g = groups.get(group);
          const i = g ? g.members.indexOf(s) : -1;
          if (g && i >= 0) {
            g.members.splice(i, 1);
            if (s.membership) send(s, encodeMessage({ type: MessageType.CAUSED_BY_LEAVE, sender: group, groups: [], data: new Uint8Array(0) }));
            announce(group, MessageType.CAUSED_BY_LEAVE, s.privateGroup);
          }
        } else if (t & MessageType.KILL_MESS) {
          drop(s);
          return;
        } else {
          multicasts++;
          const targets = new Set<Session>();
          for (const name of m.groups) {
            for (const member of groups.get(name)?.members ?? []) targets.add(member);
            for (const other of sessions) if (other.privateGroup === name) targets.add(other);
          }
          if (t & MessageType.SELF_DISCARD) targets.delete(s);
          const frame = Buffer.from(m.frame);
          for (const target of targets) send(target, frame);
        }
      }
    });
    socket.on('close', () => {
      if (session) drop(session);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    multicasts: () => multicasts,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sessions) s.socket.destroy();
        server.close(() => r());
      }),
  };
}
