/**
 * What a client receives, decoded the way SP_receive reports it (§7): data messages, regular and
 * transitional memberships, the self-leave notice and reject messages.
 */
import {
  decodeRegMembBody,
  decodeTransitionBody,
  hintEndianMismatch,
  hintMessType,
  type DecodedMessage,
  type GroupId,
} from '../session/codec.js';
import { MessageType, SpreadCode } from '../session/protocol.js';
import { isServiceLevel, type ServiceLevel } from '../util/service.js';
import { SpreadError } from './errors.js';

export type { GroupId } from '../session/codec.js';

export interface DataMessage {
  kind: 'data';
  service: ServiceLevel;
  /** The sender asked not to receive its own copy; the bit stays visible to the other members. */
  selfDiscard: boolean;
  /** The sender's private group, '#name#daemon'. */
  sender: string;
  /** The full destination list as the sender gave it. */
  groups: string[];
  /** The sender's 16-bit application message type. */
  messType: number;
  /** True when the sender's byte order differs from this host's (application data is never converted). */
  endianMismatch: boolean;
  data: Uint8Array;
}

export type MembershipReason = 'join' | 'leave' | 'disconnect' | 'network';

export interface MembershipMessage {
  kind: 'membership';
  reason: MembershipReason;
  group: string;
  groupId: GroupId;
  /** Private groups of all current members, in the daemon's order. */
  members: string[];
  /** The member who joined, left or disconnected (absent for network changes). */
  changed?: string;
  /** For a network change: the members that were together before it, one set per previous view. */
  vsSets: string[][];
  /** The vs set that contains this connection. */
  localVsSet: string[];
  /** This connection's index in `members` (-1 if absent), what libspread reports as mess_type. */
  ownIndex: number;
}

export interface TransitionalMessage {
  kind: 'transitional';
  group: string;
  /** The group's id before the change. */
  groupId: GroupId;
}

export interface SelfLeaveMessage {
  kind: 'self-leave';
  group: string;
}

export interface RejectMessage {
  kind: 'reject';
  /** The type of the refused request (CAUSED_BY_JOIN/CAUSED_BY_LEAVE for refused joins and leaves). */
  originalType: number;
  messType: number;
  sender: string;
  /** The original destinations, then this connection's private group. */
  groups: string[];
  data: Uint8Array;
}

export type Received = DataMessage | MembershipMessage | TransitionalMessage | SelfLeaveMessage | RejectMessage;

function bad(what: string, cause?: unknown): SpreadError {
  return new SpreadError(SpreadCode.ILLEGAL_MESSAGE, `the daemon sent an invalid message: ${what}; the connection is closed`, cause === undefined ? undefined : { cause });
}

function reasonOf(type: number): MembershipReason | undefined {
  if (type & MessageType.CAUSED_BY_JOIN) return 'join';
  if (type & MessageType.CAUSED_BY_LEAVE) return 'leave';
  if (type & MessageType.CAUSED_BY_DISCONNECT) return 'disconnect';
  if (type & MessageType.CAUSED_BY_NETWORK) return 'network';
  return undefined;
}

/**
 * Classifies one decoded frame from the daemon. `data` is copied so that a queued message does
 * not keep the whole socket chunk it arrived in alive.
 */
export function toReceived(m: DecodedMessage, privateGroup: string): Received {
  const { header } = m;
  const type = header.type;
  if (type & MessageType.REJECT_MESS) {
    return {
      kind: 'reject',
      originalType: (m.oldType ?? 0) >>> 0,
      messType: hintMessType(header.hint),
      sender: header.sender,
      groups: m.groups,
      data: m.data.slice(),
    };
  }
  const service = type & MessageType.REGULAR_MESS;
  if (service !== 0) {
    if (!isServiceLevel(service)) throw bad(`type 0x${type.toString(16)} names more than one service level`);
    return {
      kind: 'data',
      service,
      selfDiscard: (type & MessageType.SELF_DISCARD) !== 0,
      sender: header.sender,
      groups: m.groups,
      messType: hintMessType(header.hint),
      endianMismatch: hintEndianMismatch(header.hint),
      data: m.data.slice(),
    };
  }
  try {
    if (type & MessageType.REG_MEMB_MESS) {
      const reason = reasonOf(type);
      if (reason === undefined) throw bad(`regular membership of type 0x${type.toString(16)} has no cause`);
      const body = decodeRegMembBody(m.data, header.littleEndian);
      const msg: MembershipMessage = {
        kind: 'membership',
        reason,
        group: header.sender,
        groupId: body.groupId,
        members: m.groups,
        vsSets: body.vsSets,
        localVsSet: body.vsSets[body.localSetIndex] ?? [],
        ownIndex: m.groups.indexOf(privateGroup),
      };
      const changed = body.vsSets[0]?.[0];
      if (reason !== 'network' && changed !== undefined) msg.changed = changed;
      return msg;
    }
    if (type & MessageType.TRANSITION_MESS) {
      return { kind: 'transitional', group: header.sender, groupId: decodeTransitionBody(m.data, header.littleEndian) };
    }
  } catch (e) {
    if (e instanceof SpreadError) throw e;
    throw bad(e instanceof Error ? e.message : String(e), e);
  }
  if (type === MessageType.CAUSED_BY_LEAVE) return { kind: 'self-leave', group: header.sender };
  throw bad(`unknown message type 0x${type.toString(16)}`);
}
