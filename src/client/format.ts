/**
 * Human-readable renderings of received messages, in the spirit of Spread's spuser: service type,
 * sender, groups and mess_type for data; reason, group, group id, members and vs sets for
 * memberships. Used by the `ringcast user` and `ringcast monitor` tools.
 */
import { MessageType } from '../session/protocol.js';
import { SERVICE_NAMES, isServiceLevel } from '../util/service.js';
import type { GroupId, Received } from './received.js';

export function formatGroupId(g: GroupId): string {
  return `${g.procId} ${g.time} ${g.index}`;
}

/** Printable text of a payload: UTF-8 when it decodes cleanly, otherwise hex. */
export function formatPayload(data: Uint8Array, bytesMax = 4096): string {
  const shown = data.subarray(0, bytesMax);
  const more = data.length > bytesMax ? ` ... (${data.length - bytesMax} more bytes)` : '';
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(shown);
    if (!/[\x00-\x08\x0e-\x1f\x7f]/.test(text)) return text + more;
  } catch {
    // not UTF-8: fall through to hex
  }
  return `0x${Buffer.from(shown).toString('hex')}${more}`;
}

function serviceName(type: number): string {
  const s = type & MessageType.REGULAR_MESS;
  if (isServiceLevel(s)) return SERVICE_NAMES[s];
  if (type & MessageType.CAUSED_BY_JOIN) return 'JOIN';
  if (type & MessageType.CAUSED_BY_LEAVE) return 'LEAVE';
  return `0x${type.toString(16)}`;
}

/** Lines describing one received message. */
export function describeReceived(m: Received): string[] {
  switch (m.kind) {
    case 'data': {
      const lines = [
        `received ${SERVICE_NAMES[m.service]}${m.selfDiscard ? ' (self-discard)' : ''} message from ${m.sender}, mess_type ${m.messType}, ` +
          `endian mismatch ${m.endianMismatch ? 1 : 0}, to ${m.groups.length} group(s): ${m.groups.join(' ')}`,
      ];
      const text = formatPayload(m.data);
      lines.push(`(${m.data.length} bytes): ${text.replace(/\n$/, '')}`);
      return lines;
    }
    case 'membership': {
      const lines = [`received REGULAR membership for group ${m.group} with ${m.members.length} member(s), where I am member ${m.ownIndex}:`];
      for (const member of m.members) lines.push(`\t${member}`);
      lines.push(`group id is ${formatGroupId(m.groupId)}`);
      if (m.reason === 'network') {
        lines.push(`due to a NETWORK change with ${m.vsSets.length} vs set(s)`);
        m.vsSets.forEach((set, i) => {
          const local = set === m.localVsSet ? ' (local vs set)' : '';
          lines.push(`\tvs set ${i} has ${set.length} member(s)${local}:`);
          for (const member of set) lines.push(`\t\t${member}`);
        });
      } else {
        lines.push(`due to the ${m.reason.toUpperCase()} of ${m.changed ?? '(unknown member)'}`);
      }
      return lines;
    }
    case 'transitional':
      return [`received TRANSITIONAL membership for group ${m.group} (group id was ${formatGroupId(m.groupId)})`];
    case 'self-leave':
      return [`received self-leave: this session has left group ${m.group}`];
    case 'reject':
      return [
        `received REJECT of a ${serviceName(m.originalType)} request from ${m.sender} to ${m.groups.length} group(s): ${m.groups.join(' ')}, mess_type ${m.messType}`,
        `(${m.data.length} bytes): ${formatPayload(m.data)}`,
      ];
  }
}
