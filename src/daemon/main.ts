/**
 * Daemon startup in the order of shared/architecture.md: configuration, log, sockets, engine,
 * ring. A bad configuration or an unusable socket is reported with what to fix, and the process
 * exits non-zero; once running, nothing a client or peer sends can stop it.
 */
import os from 'node:os';
import {
  defaultConfig,
  expandEventLogFile,
  findSelf,
  loadConfig,
  loadTrustedDaemonKeys,
  unixSocketPathFor,
  type DaemonEntry,
  type RingcastConfig,
} from '../config/index.js';
import { ipAllowed, loadAccessIpFor } from '../config/access-ip.js';
import { TotemNode } from '../membership/index.js';
import type { TotemEngine } from '../ring/types.js';
import type { DaemonId } from '../util/ids.js';
import { RingcastError } from '../util/errors.js';
import { RingcastDaemon } from './daemon.js';
import { LocalOrderer } from './local-orderer.js';
import { Logger } from './log.js';
import { decodeMonitorRequest, encodeMonitorReply } from './monitor-protocol.js';
import { ENVELOPE_BYTES, UdpTransport } from './udp-transport.js';
import { planDatagrams, type BundlePlanOptions, type SealedSend } from './bundle-plan.js';
import { totemOptionsFor } from './totem-options.js';
import { createPacketProtection, type RingPacketProtection } from './packet-protection.js';
import { commitTokenBytes } from '../membership/wire.js';
import { COMMIT_PARTS_MAX, COMMIT_PART_FIXED_BYTES } from '../membership/commit-parts.js';
import { CONTRIBUTION_BYTES, CONTRIBUTION_PUBLIC_BYTES, SEALED_EPOCH_BYTES } from '../../keys/index.js';
import { hardenProcess, keyedAuthFor, loadSessionSecurity } from './hardening.js';

export interface DaemonArgs {
  configFile?: string;
  name?: string;
  port?: number;
  /** Override of the Unix socket path ('' disables it). */
  unixSocket?: string;
  /** Diagnostic: append every ring datagram sent to this file (see UdpTransportOptions.captureFile). */
  capturePackets?: string;
  /** As `AllowRunAsRoot = true` in the configuration. */
  allowRunAsRoot?: boolean;
}

export interface RunningDaemon {
  daemon: RingcastDaemon;
  transport: UdpTransport | undefined;
  config: RingcastConfig;
  self: DaemonEntry;
  /**
   * SIGHUP: re-reads the configuration file's trusted daemon keys (DaemonPublicKey lines). A
   * daemon whose key was removed or changed is refused from now on and a new configuration
   * forms at once without it. Other changes to the file need a restart.
   */
  reload(): void;
  stop(): Promise<void>;
}

function localAddresses(): string[] {
  const out = ['127.0.0.1', '::1'];
  for (const list of Object.values(os.networkInterfaces())) for (const i of list ?? []) out.push(i.address);
  return out;
}

export async function startDaemon(args: DaemonArgs): Promise<RunningDaemon> {
  let config = args.configFile !== undefined ? loadConfig(args.configFile) : defaultConfig();
  if (args.configFile === undefined && args.port !== undefined) config = withDefaultPort(config, args.port);
  if (args.allowRunAsRoot === true) config = { ...config, allowRunAsRoot: true };
  // The built-in default is for trying Ringcast on one machine (`npm start`): it runs as whoever
  // starts it. A daemon user is a deployment decision, made in a configuration file.
  if (args.configFile === undefined) config = { ...config, allowRunAsRoot: true };
  const self = findSelf(config, { name: args.name, localAddresses: localAddresses() });
  const clientPort = args.configFile !== undefined && args.port !== undefined ? args.port : self.port;
  const logger = new Logger({
    file: expandEventLogFile(config, os.hostname()),
    timeStamp: config.eventTimeStamp,
    priority: config.eventPriority,
    debugFlags: config.debugFlags,
  });
  const ipRules = loadAccessIpFor(config);
  const security = await loadSessionSecurity(config, logger);
  const incarnation = Date.now();
  let unixPath = args.unixSocket !== undefined ? args.unixSocket || undefined : unixSocketPathFor(config, self);
  if (unixPath !== undefined && clientPort !== self.port && args.unixSocket === undefined) unixPath = `/tmp/${clientPort}`;

  let transport: UdpTransport | undefined;
  let protection: RingPacketProtection | undefined;
  let engine: TotemEngine;
  let ringNode: TotemNode | undefined;
  let daemonRef: RingcastDaemon | undefined;
  if (config.daemons.length === 1) {
    engine = new LocalOrderer(self.id, incarnation, 10_000);
  } else {
    const prot = await createPacketProtection(config, self, incarnation, logger);
    protection = prot;
    const totemOptions = totemOptionsFor(config, self, incarnation, prot.overheadBytes);
    if (prot.formationKeys) {
      totemOptions.formationKeys = prot.formationKeys;
      checkCommitTokenFits(config, totemOptions.packetBytesMax);
    }
    const node = new TotemNode(totemOptions);
    ringNode = node;
    engine = node;
    transport = new UdpTransport({
      self,
      daemons: config.daemons,
      segments: config.segments,
      configHash: config.hash,
      onRingPacket: (from, payload) => {
        const plain = prot.open(payload, from);
        if (plain !== undefined) daemonRef?.handlePacket(from, plain);
      },
      onMonitorRequest: (payload, reply, source) => {
        if (!config.daemons.some((d) => d.address === source.address.replace(/^::ffff:/, ''))) return;
        const req = decodeMonitorRequest(payload);
        if (!req) return reply(encodeMonitorReply({ ok: false, error: 'malformed monitor request' }));
        if (req.command === 'status') return reply(encodeMonitorReply({ ok: true, status: { ...daemonRef?.status(), transport: transport?.stats, crypto: config.cryptoMode, protection: prot.stats(), epoch: prot.epochStatus(), blocked: transport?.blockedPeers() } }));
        if (!config.dangerousMonitor) {
          logger.log('warn', `refused monitor ${req.command} from ${source.address}:${source.port}: DangerousMonitor is off`);
          return reply(encodeMonitorReply({ ok: false, error: 'DangerousMonitor is off in this daemon\'s configuration' }));
        }
        transport?.setBlocked(req.command === 'partition' ? req.blocked : []);
        logger.log('info', `monitor ${req.command}${req.command === 'partition' ? ` blocking ${req.blocked.join(',')}` : ''}`);
        return reply(encodeMonitorReply({ ok: true }));
      },
      log: (level, msg) => logger.log(level, msg, 'NETWORK'),
      captureFile: args.capturePackets,
    });
    await transport.bind();
  }
  // The other members of the installed ring, recomputed only when the ring changes (every ring
  // send needs them).
  let membersOf: readonly DaemonId[] | undefined;
  let othersInRing: DaemonId[] = [];
  const members = (): DaemonId[] => {
    const now = ringNode ? ringNode.ringMembers() : engine.status().members;
    if (now !== membersOf) {
      membersOf = now;
      othersInRing = now.filter((id) => id !== self.id);
    }
    return othersInRing;
  };
  const others = config.daemons.filter((d) => d.id !== self.id).map((d) => d.id);
  const bundling: BundlePlanOptions = {
    bodyBytesMax: config.packetBytesMax - ENVELOPE_BYTES,
    tokenFirst: config.acceleratedRing && !config.anticipateReplies,
    unicast: (to) => transport!.unicastOnly(to),
  };
  const daemon = new RingcastDaemon({
    config,
    self,
    logger,
    incarnation,
    clientPort,
    clientHosts: clientHostsFor(self),
    unixSocketPath: unixPath,
    ipAllowed: (peer) => ipAllowed(ipRules, peer),
    engine,
    keyedAuth: keyedAuthFor(security, self.name),
    accessControl: security.accessControl,
    transmit: transport
      ? (txs) => {
          const sends: SealedSend[] = [];
          for (const tx of txs) {
            const sealed = protection!.seal(tx);
            if (sealed === undefined) continue;
            const to = tx.to === 'ring' ? members() : tx.to === 'configured' ? others : [tx.to];
            // Nothing goes to a daemon this one no longer trusts (a revoked identity).
            sends.push({ to: to.filter((id) => protection!.trusts(id)), bytes: sealed, single: typeof tx.to === 'number' });
          }
          for (const d of planDatagrams(sends, bundling)) {
            if (d.kind === 'bundle') transport!.sendBundle(d.to, d.parts);
            else transport!.send(d.to, d.bytes);
          }
        }
      : undefined,
  });
  daemonRef = daemon;
  try {
    await daemon.start({ beforeRing: () => hardenProcess(config, logger, security) });
  } catch (err) {
    await daemon.listener.close();
    await transport?.close();
    security.close();
    throw err;
  }
  return {
    daemon,
    transport,
    config,
    self,
    reload: () => {
      if (args.configFile === undefined || !protection?.formationKeys) {
        logger.log('info', 'reload: nothing to reload (no configuration file with daemon identities)');
        return;
      }
      let keys;
      try {
        keys = loadTrustedDaemonKeys(args.configFile);
      } catch (err) {
        logger.log('error', `reload refused, keys unchanged: ${err instanceof Error ? err.message : String(err)}`, 'SECURITY');
        return;
      }
      const lost = protection.setTrustedKeys(keys);
      logger.log('info', `reload: ${keys.size} trusted daemon keys from ${args.configFile}`, 'SECURITY');
      if (lost.some((id) => engine.status().members.includes(id))) {
        engine.reconfigure?.(performance.now());
        daemon.kick();
      }
    },
    stop: async () => {
      await daemon.stop();
      protection?.close();
      // Give the departure announcement a moment on the wire before the socket closes.
      await new Promise((r) => setTimeout(r, 20));
      await transport?.close();
      security.close();
      logger.log('info', `daemon ${self.name} stopped`);
      logger.close();
    },
  };
}

/**
 * §1, §12: with an interface block, clients are served only on its C (or untyped) interfaces.
 * Without one, Spread listens on every address; Ringcast listens on the daemon's own address, so
 * that daemons sharing a port on 127.0.0.1, .2 and .3 do not collide.
 */
function clientHostsFor(self: DaemonEntry): string[] {
  const hosts = self.interfaces.filter((i) => i.kinds.has('C')).map((i) => i.address);
  return hosts.length > 0 ? hosts : [self.address];
}

/**
 * With epoch keys every member's commit-token entry carries its key contribution; a token larger
 * than a packet travels in parts, up to COMMIT_PARTS_MAX of them. Refuse a configuration whose
 * ring of all daemons could not form even so.
 */
function checkCommitTokenFits(cfg: RingcastConfig, enginePacketBytesMax: number): void {
  const n = cfg.daemons.length;
  const worst = Math.max(commitTokenBytes(n, CONTRIBUTION_BYTES, 0), commitTokenBytes(n, CONTRIBUTION_PUBLIC_BYTES, SEALED_EPOCH_BYTES));
  const capacity = COMMIT_PARTS_MAX * (enginePacketBytesMax - COMMIT_PART_FIXED_BYTES);
  if (worst > capacity) {
    throw new RingcastError(
      'CONFIG_EPOCH_KEYS',
      `with daemon identities, the commit token of ${n} daemons takes ${worst} bytes, more than ${COMMIT_PARTS_MAX} packets of ${enginePacketBytesMax} bytes carry (MaxPacketBytes ${cfg.packetBytesMax}): raise MaxPacketBytes or configure fewer daemons`,
    );
  }
}

function withDefaultPort(cfg: RingcastConfig, port: number): RingcastConfig {
  if (!Number.isInteger(port) || port < 1 || port > 65534) {
    throw new RingcastError('BAD_PORT', `port ${port} is out of range 1..65534`);
  }
  const daemons = cfg.daemons.map((d) => ({ ...d, port }));
  return {
    ...cfg,
    daemons,
    segments: cfg.segments.map((s) => ({ ...s, port, daemons: daemons.filter((d) => d.segment === s.daemons[0]?.segment) })),
  };
}
