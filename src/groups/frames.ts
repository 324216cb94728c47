/**
 * The daemon→client frames the group layer produces (spec §7), built with the session codec, and
 * the few fields of a forwarded data frame that routing needs.
 */
import type { GroupId } from '../session/codec.js';
import { encodeMessage, encodeRegMembBody, encodeRejectMessage, encodeTransitionBody, makeHint, readName } from '../session/codec.js';
import { MessageType, SpreadLimits } from '../session/protocol.js';

/** REG_MEMB_MESS | cause (§7.2). `localSetIndex` selects the receiver's vs_set. */
export function regMembFrame(
  group: string,
  cause: number,
  members: readonly string[],
  groupId: GroupId,
  vsSets: readonly (readonly string[])[],
  localSetIndex: number,
): Uint8Array {
  return encodeMessage({
    type: MessageType.REG_MEMB_MESS | cause,
    sender: group,
    groups: members,
    hint: makeHint(0),
    data: encodeRegMembBody(groupId, vsSets, localSetIndex),
  });
}

/** TRANSITION_MESS (§7.3): no groups, body = the group id the view had before the change. */
export function transitionFrame(group: string, groupId: GroupId): Uint8Array {
  return encodeMessage({
    type: MessageType.TRANSITION_MESS,
    sender: group,
    groups: [],
    hint: makeHint(0),
    data: encodeTransitionBody(groupId),
  });
}

/** Self-leave (§7.4): CAUSED_BY_LEAVE alone, no groups, no data. */
export function selfLeaveFrame(group: string): Uint8Array {
  return encodeMessage({ type: MessageType.CAUSED_BY_LEAVE, sender: group, groups: [], hint: makeHint(0), data: new Uint8Array(0) });
}

/**
 * REJECT_MESS (§7.5) for a refused JOIN: the JOIN the client sent (one group, hint with the
 * marker only, no data) comes back with old_type CAUSED_BY_JOIN and the requester appended.
 */
export function encodeRejectFrame(member: string, group: string): Uint8Array {
  const hint = makeHint(0);
  return encodeRejectMessage(
    {
      header: { type: MessageType.JOIN_MESS, sender: member, numGroups: 1, hint, dataLen: 0, littleEndian: true },
      oldType: undefined,
      groups: [group],
      data: new Uint8Array(0),
      frame: new Uint8Array(0),
    },
    member,
  );
}

export interface DataFrameRoute {
  type: number;
  sender: string;
  groups: string[];
}

/** Type, sender and destinations of a frame already checked by isWellFormedDataFrame. */
export function dataFrameRoute(frame: Uint8Array): DataFrameRoute {
  const dv = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  const type = (dv.getUint32(0, true) & ~MessageType.ENDIAN_MARKER) >>> 0;
  const numGroups = dv.getInt32(36, true);
  const groups: string[] = [];
  for (let i = 0; i < numGroups; i++) {
    groups.push(readName(frame, SpreadLimits.HEADER_BYTES + SpreadLimits.GROUP_NAME_BYTES * i));
  }
  // The session compares the sender with a NUL forced at byte 31 (§5); so does routing.
  return { type, sender: readName(frame, 4).slice(0, SpreadLimits.GROUP_NAME_BYTES - 1), groups };
}
