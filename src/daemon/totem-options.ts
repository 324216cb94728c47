/** Maps a daemon's configuration to the Totem engine's options (Spread timeouts and windows). */
import type { DaemonEntry, RingcastConfig } from '../config/index.js';
import type { TotemOptions } from '../ring/types.js';
import { ENVELOPE_BYTES } from './udp-transport.js';

/**
 * Longest wait for an anticipated reply (AnticipateReplies). A client answering at once answers
 * within a fraction of it; one that does not costs the ring this much, then anticipation backs off.
 */
export const REPLY_HOLD_MS = 1;

/** `protectionBytes`: what the crypto layer adds to each packet. */
export function totemOptionsFor(cfg: RingcastConfig, self: DaemonEntry, incarnation: number, protectionBytes = 0): TotemOptions {
  const t = cfg.timeouts;
  return {
    self: self.id,
    incarnation,
    configured: cfg.daemons.map((d) => d.id),
    timeouts: {
      tokenLossMs: t.tokenMs,
      tokenRetransmitMs: t.hurryMs < t.repMs ? t.hurryMs / 5 : t.repMs / 5,
      joinMs: t.joinMs,
      consensusMs: t.gatherMs,
      formMs: t.formMs,
      mergeDetectMs: t.aliveMs * 4,
    },
    windowPacketsMax: cfg.window,
    personalWindowPacketsMax: cfg.personalWindow,
    acceleratedWindowPacketsMax: cfg.acceleratedRing ? cfg.acceleratedWindow : 0,
    replyHoldMs: cfg.anticipateReplies ? REPLY_HOLD_MS : 0,
    packetBytesMax: cfg.packetBytesMax - ENVELOPE_BYTES - protectionBytes,
    pendingMessagesMax: 10_000,
    random: Math.random,
  };
}
