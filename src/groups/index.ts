/** The group layer: Spread process groups over the EVS-ordered ring stream (sans-IO). */
export {
  GroupTable,
  GROUP_STATE_STREAM,
  type GroupTableOptions,
  type GroupOutput,
  type GroupView,
  type GroupTableStats,
} from './table.js';
export {
  encodeGroupRequest,
  decodeGroupPayload,
  encodeStateParts,
  isWellFormedDataFrame,
  GroupPayloadError,
  GROUP_PAYLOAD_VERSION,
  STATE_MESSAGE_BYTES_MIN,
  type GroupRequest,
  type GroupPayload,
  type GroupStatePayload,
  type GroupStateEntry,
  type LocalGroupState,
} from './payload.js';
export { encodeRejectFrame, regMembFrame, transitionFrame, selfLeaveFrame } from './frames.js';
export type { GroupId } from '../session/codec.js';
