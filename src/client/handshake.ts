/**
 * The connect handshake exactly as libspread 5.0.1 performs it (§3): connect request, the
 * daemon's method list (or a reject byte), the 90-byte choice, each method's exchange, then the
 * accept record (or a reject byte). Records older libraries would not send are left out when an
 * older version is announced (§3.7).
 */
import { decodeAuthListBody, encodeAuthChoice, encodeConnectRequest, sendsPatchByte } from '../session/codec.js';
import { SpreadCode, SpreadLimits } from '../session/protocol.js';
import { formatAddress, type ResolvedAddress } from './address.js';
import type { ClientAuthMethod, RecordTransport } from './auth.js';
import { rejectError, SpreadError } from './errors.js';
import type { HandshakeIO } from './handshake-io.js';

export interface LibraryVersion {
  major: number;
  minor: number;
  patch: number;
}

/** The version libspread 5.0.1 announces (spread_params.h). */
export const LIBRARY_VERSION: LibraryVersion = { major: 5, minor: 0, patch: 1 };

export interface DaemonVersion {
  major: number;
  minor: number;
  /** Undefined only when a library older than 3.15 was announced: the daemon then omits it. */
  patch: number | undefined;
}

export interface HandshakeParams {
  name: string;
  membership: boolean;
  priority: number;
  version: LibraryVersion;
  methods: readonly ClientAuthMethod[];
  address: ResolvedAddress;
}

export interface HandshakeResult {
  privateGroup: string;
  daemonVersion: DaemonVersion;
  /** Methods the daemon listed (empty for libraries older than 3.16, which skip negotiation). */
  daemonMethods: string[];
  /** Protection of the message stream, when a method keyed the session. */
  transport: RecordTransport | undefined;
}

function versionNumber(v: { major: number; minor: number; patch?: number | undefined }): number {
  return v.major * 10000 + v.minor * 100 + (v.patch ?? 0);
}

function signed(b: number): number {
  return b >= 0x80 ? b - 0x100 : b;
}

async function readByte(io: HandshakeIO): Promise<number> {
  const b = await io.read(1);
  return b[0] ?? 0;
}

export async function performHandshake(io: HandshakeIO, p: HandshakeParams): Promise<HandshakeResult> {
  const where = formatAddress(p.address);
  const methodNames = p.methods.map((m) => m.name);
  const rejectCtx = { name: p.name, address: where, methods: methodNames };

  await io.write(
    encodeConnectRequest({ major: p.version.major, minor: p.version.minor, patch: p.version.patch, membership: p.membership, priority: p.priority, name: p.name }),
  );

  let daemonMethods: string[] = [];
  let transport: RecordTransport | undefined;
  if (versionNumber(p.version) >= 31600) {
    const len = signed(await readByte(io));
    if (len < 0) throw rejectError(len, rejectCtx);
    daemonMethods = decodeAuthListBody(await io.read(len));
    // libspread checks locally that each of its methods is enabled, and leaves without sending the choice otherwise.
    const missing = methodNames.filter((n) => !daemonMethods.includes(n));
    if (missing.length > 0) {
      throw new SpreadError(
        SpreadCode.REJECT_AUTH,
        `daemon ${where} does not offer authentication method ${missing.join(', ')}; it offers ${daemonMethods.length > 0 ? daemonMethods.join(', ') : 'none'}`,
      );
    }
    await io.write(encodeAuthChoice(methodNames));
    let keyedBy: string | undefined;
    for (const method of p.methods) {
      const outcome = await method.exchange({ channel: io, privateName: p.name, address: p.address, daemonMethods });
      if (outcome?.transport) {
        if (keyedBy !== undefined) throw new SpreadError(SpreadCode.REJECT_AUTH, `both ${keyedBy} and ${method.name} key the session; choose one of them`);
        keyedBy = method.name;
        transport = outcome.transport;
      }
    }
    // Everything after the method exchanges, the accept included, travels protected.
    if (transport) io.protect(transport);
  }

  const result = signed(await readByte(io));
  if (result !== SpreadCode.ACCEPT_SESSION) {
    if (result < 0) throw rejectError(result, rejectCtx);
    throw new SpreadError(SpreadCode.CONNECTION_CLOSED, `daemon ${where} answered the handshake with unexpected byte ${result}; is this a Spread daemon?`);
  }
  const major = signed(await readByte(io));
  const minor = signed(await readByte(io));
  // The daemon sends its patch byte only to libraries of 3.15.0 and later (§3.6, §3.7).
  const patch = sendsPatchByte(p.version.major, p.version.minor) ? signed(await readByte(io)) : undefined;
  const nameLen = signed(await readByte(io));
  if (major < 0 || minor < 0 || (patch !== undefined && patch < 0) || nameLen < 0 || nameLen >= SpreadLimits.GROUP_NAME_BYTES) {
    throw new SpreadError(SpreadCode.CONNECTION_CLOSED, `daemon ${where} sent a malformed accept record`);
  }
  const privateGroup = Buffer.from(await io.read(nameLen)).toString('latin1');
  if (major < 3 || (p.priority > 0 && major === 3 && minor < 8)) {
    throw new SpreadError(SpreadCode.REJECT_VERSION, `daemon ${where} runs version ${major}.${minor}, which this library cannot use${p.priority > 0 ? ' with a priority' : ''}`);
  }
  return { privateGroup, daemonVersion: { major, minor, patch }, daemonMethods, transport };
}
