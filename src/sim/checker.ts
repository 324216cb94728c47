/**
 * The extended virtual synchrony checker: reads a History and names every property it violates.
 * Properties after Moser, Amir, Melliar-Smith, Agarwal, "Extended Virtual Synchrony", ICDCS 1994,
 * with Spread's per-service guarantees deciding which messages each order property covers.
 */
import type { DaemonId } from '../util/ids.js';
import { ringIdEquals } from '../util/ids.js';
import { Service, type ServiceLevel } from '../util/service.js';
import {
  configKey,
  familyKey,
  incarnationName,
  type ConfigEvent,
  type DeliveryEvent,
  type History,
  type IncarnationHistory,
  type SubmitEvent,
} from './history.js';
import { parseMessageId } from './payload.js';

export const PROPERTIES = [
  'engine-error',
  'integrity',
  'configuration-agreement',
  'delivery-in-one-configuration',
  'self-delivery',
  'failure-atomicity',
  'total-order',
  'causal-order',
  'fifo-order',
  'safe-delivery',
  'liveness',
] as const;

export type PropertyName = (typeof PROPERTIES)[number];

export interface Violation {
  property: PropertyName;
  description: string;
  /** Daemons involved (for trace filtering). */
  daemons: DaemonId[];
  /** Message ids involved. */
  messages: string[];
  /** Configuration keys involved (see history.configKey). */
  configurations: string[];
  /** Simulated time the violation became visible, if known. */
  atMs?: number;
}

export interface CheckOptions {
  /** Services whose messages must be in one global order. Default: all (the ring orders everything). */
  totalOrderServices?: readonly ServiceLevel[];
  /** Services whose messages respect causal order. Default: all. */
  causalServices?: readonly ServiceLevel[];
  /** Services whose messages respect FIFO order per sender stream. Default: all. */
  fifoServices?: readonly ServiceLevel[];
  /** Services that must reach their own sender (self-delivery, failure atomicity). Default all but UNRELIABLE. */
  reliableServices?: readonly ServiceLevel[];
  /** At most this many violations are reported per property. Default 5. */
  violationsPerPropertyMax?: number;
}

/**
 * The weaker per-service promises of Spread's user guide, for engines that deliver lower service
 * levels outside the total order: total order for AGREED and SAFE only, causal order from CAUSAL
 * up, FIFO from FIFO up. The default (everything in one order) is what a Totem ring gives when
 * every message is delivered in sequence-number order.
 */
export const SPREAD_SERVICE_GUARANTEES: CheckOptions = {
  totalOrderServices: [Service.AGREED, Service.SAFE],
  causalServices: [Service.CAUSAL, Service.AGREED, Service.SAFE],
  fifoServices: [Service.FIFO, Service.CAUSAL, Service.AGREED, Service.SAFE],
};

export interface CheckResult {
  ok: boolean;
  violations: Violation[];
  /** Violated property names, each once, in PROPERTIES order. */
  violated: PropertyName[];
  stats: { incarnations: number; configurations: number; submitted: number; deliveries: number };
}

interface Delivered {
  id: string;
  ev: DeliveryEvent;
  /** Configuration current at this incarnation when delivered (undefined: none installed yet). */
  config: ConfigEvent | undefined;
  cKey: string;
  fKey: string;
  index: number;
}

interface ConfigSpan {
  ev: ConfigEvent;
  key: string;
  fKey: string;
  delivered: string[];
}

interface Submitted {
  ev: SubmitEvent;
  inc: IncView;
  /** Family (regular configuration) current at the sender when submitted. */
  fKey: string;
  /** Index in the sender's delivery list where that family's deliveries start. */
  familyStart: number;
}

interface IncView {
  h: IncarnationHistory;
  name: string;
  delivered: Delivered[];
  pos: Map<string, number>;
  configs: ConfigSpan[];
  submits: Submitted[];
}

const ALL_SERVICES: readonly ServiceLevel[] = [
  Service.UNRELIABLE,
  Service.RELIABLE,
  Service.FIFO,
  Service.CAUSAL,
  Service.AGREED,
  Service.SAFE,
];

function sameMembers(a: readonly DaemonId[], b: readonly DaemonId[]): boolean {
  if (a.length !== b.length) return false;
  const sa = [...a].map((x) => x >>> 0).sort((x, y) => x - y);
  const sb = [...b].map((x) => x >>> 0).sort((x, y) => x - y);
  return sa.every((x, i) => x === sb[i]);
}

/**
 * EVS: a regular configuration follows the previous one only through a transitional configuration
 * whose members are exactly the members of the new one that come from the same regular
 * configuration, and the new configuration records each member's previous ring.
 */
function checkRegularSuccession(
  inc: IncView,
  previous: ConfigEvent,
  before: ConfigSpan | undefined,
  next: ConfigEvent,
  report: (v: Violation) => void,
): void {
  const keys = [configKey(previous), configKey(next)];
  const fail = (what: string): void =>
    report({
      property: 'configuration-agreement',
      description: `${inc.name} moved from ${configKey(previous)} to ${configKey(next)}: ${what}`,
      daemons: [inc.h.daemon],
      messages: [],
      configurations: keys,
      atMs: next.atMs,
    });
  if (before === undefined || before.ev.type !== 'transitional') {
    fail('no transitional configuration in between');
    return;
  }
  if (next.previousRings === undefined) return;
  const own = next.previousRings.find((p) => p.daemon >>> 0 === inc.h.daemon >>> 0);
  if (own === undefined || !ringIdEquals(own.ring, previous.ring)) {
    fail(`the new configuration records ${own ? `${own.ring.rep >>> 0}.${own.ring.seq}` : 'nothing'} as this daemon's previous ring`);
    return;
  }
  const together = next.members.filter((m) =>
    next.previousRings!.some((p) => p.daemon >>> 0 === m >>> 0 && ringIdEquals(p.ring, previous.ring)),
  );
  if (!sameMembers(together, before.ev.members)) {
    fail(`transitional members ${fmtMembers(before.ev.members)}, but the members coming from ${configKey(previous)} are ${fmtMembers(together)}`);
  }
}

function previousRingsText(ev: ConfigEvent): string {
  if (ev.previousRings === undefined) return '(not recorded)';
  return ev.previousRings
    .map((p) => `${p.daemon >>> 0}:${p.ring.rep >>> 0}.${p.ring.seq}`)
    .sort()
    .join(' ');
}

function fmtMembers(m: readonly DaemonId[]): string {
  return `{${[...m].map((x) => x >>> 0).sort((x, y) => x - y).join(',')}}`;
}

export function checkHistory(history: History, options: CheckOptions = {}): CheckResult {
  const totalSet = new Set(options.totalOrderServices ?? ALL_SERVICES);
  const causalSet = new Set(options.causalServices ?? ALL_SERVICES);
  const fifoSet = new Set(options.fifoServices ?? ALL_SERVICES);
  const reliableSet = new Set(options.reliableServices ?? ALL_SERVICES.filter((s) => s !== Service.UNRELIABLE));
  const perPropertyMax = options.violationsPerPropertyMax ?? 5;

  const violations: Violation[] = [];
  const counts = new Map<PropertyName, number>();
  const report = (v: Violation): void => {
    const n = counts.get(v.property) ?? 0;
    counts.set(v.property, n + 1);
    if (n < perPropertyMax) violations.push(v);
  };

  for (const e of history.engineErrors) {
    report({
      property: 'engine-error',
      description: `engine of ${incarnationName(e.daemon, e.incarnation)} threw: ${e.message}`,
      daemons: [e.daemon],
      messages: [],
      configurations: [],
      atMs: e.atMs,
    });
  }

  if (history.aborted !== undefined && history.engineErrors.length === 0) {
    report({
      property: 'liveness',
      description: `run cut short: ${history.aborted}`,
      daemons: [],
      messages: [],
      configurations: [],
      atMs: history.endAtMs,
    });
  }

  // ---- Index the history --------------------------------------------------------------------
  const incs: IncView[] = [];
  const submissions = new Map<string, Submitted>();
  const deliveriesOf = new Map<string, { inc: IncView; d: Delivered }[]>();
  const configs = new Map<string, { ev: ConfigEvent; installers: { inc: IncView; atMs: number }[] }>();
  let deliveryCount = 0;

  for (const h of history.incarnations) {
    const inc: IncView = { h, name: incarnationName(h.daemon, h.incarnation), delivered: [], pos: new Map(), configs: [], submits: [] };
    incs.push(inc);
    let current: ConfigSpan | undefined;
    let lastRegular: ConfigEvent | undefined;
    let familyStart = 0;
    for (const ev of h.events) {
      if (ev.kind === 'config') {
        const key = configKey(ev);
        const fKey = familyKey(ev);
        if (current === undefined || fKey !== current.fKey) familyStart = inc.delivered.length;
        current = { ev, key, fKey, delivered: [] };
        inc.configs.push(current);
        let c = configs.get(key);
        if (c === undefined) {
          c = { ev, installers: [] };
          configs.set(key, c);
        }
        c.installers.push({ inc, atMs: ev.atMs });
        // EVS configuration agreement, local part: a daemon installs only configurations it is in;
        // a transitional configuration follows this daemon's own regular configuration and keeps
        // only members of it.
        if (!ev.members.some((m) => m >>> 0 === h.daemon >>> 0)) {
          report({
            property: 'configuration-agreement',
            description: `${inc.name} installed ${ev.type} configuration ${key} ${fmtMembers(ev.members)} without being a member`,
            daemons: [h.daemon],
            messages: [],
            configurations: [key],
            atMs: ev.atMs,
          });
        }
        if (ev.type === 'transitional') {
          if (lastRegular === undefined || ev.previous === undefined || !ringIdEquals(ev.previous, lastRegular.ring)) {
            report({
              property: 'configuration-agreement',
              description: `${inc.name} installed transitional configuration ${key} that does not follow its regular configuration ${lastRegular ? configKey(lastRegular) : '(none)'}`,
              daemons: [h.daemon],
              messages: [],
              configurations: [key],
              atMs: ev.atMs,
            });
          } else if (!ev.members.every((m) => lastRegular!.members.some((x) => x >>> 0 === m >>> 0))) {
            report({
              property: 'configuration-agreement',
              description: `${inc.name}: transitional configuration ${key} ${fmtMembers(ev.members)} has members outside the regular configuration it follows ${fmtMembers(lastRegular.members)}`,
              daemons: [h.daemon],
              messages: [],
              configurations: [key, configKey(lastRegular)],
              atMs: ev.atMs,
            });
          }
        } else {
          if (lastRegular !== undefined) checkRegularSuccession(inc, lastRegular, inc.configs[inc.configs.length - 2], ev, report);
          lastRegular = ev;
        }
      } else if (ev.kind === 'deliver') {
        deliveryCount++;
        const d: Delivered = {
          id: ev.messageId,
          ev,
          config: current?.ev,
          cKey: current?.key ?? '(none)',
          fKey: current?.fKey ?? '(none)',
          index: inc.delivered.length,
        };
        if (current === undefined || !ringIdEquals(current.ev.ring, ev.ring)) {
          report({
            property: 'delivery-in-one-configuration',
            description: `${inc.name} delivered ${ev.messageId} tagged with ring ${ev.ring.rep >>> 0}.${ev.ring.seq} while its current configuration is ${current?.key ?? '(none)'}`,
            daemons: [h.daemon, ev.sender],
            messages: [ev.messageId],
            configurations: current ? [current.key] : [],
            atMs: ev.atMs,
          });
        }
        if (inc.pos.has(ev.messageId)) {
          report({
            property: 'delivery-in-one-configuration',
            description: `${inc.name} delivered ${ev.messageId} twice`,
            daemons: [h.daemon, ev.sender],
            messages: [ev.messageId],
            configurations: [d.cKey],
            atMs: ev.atMs,
          });
          continue;
        }
        inc.pos.set(ev.messageId, d.index);
        inc.delivered.push(d);
        current?.delivered.push(ev.messageId);
        let list = deliveriesOf.get(ev.messageId);
        if (list === undefined) {
          list = [];
          deliveriesOf.set(ev.messageId, list);
        }
        list.push({ inc, d });
      } else {
        const s: Submitted = { ev, inc, fKey: current?.fKey ?? '(none)', familyStart };
        inc.submits.push(s);
        if (submissions.has(ev.messageId)) {
          report({
            property: 'integrity',
            description: `message id ${ev.messageId} submitted twice`,
            daemons: [h.daemon],
            messages: [ev.messageId],
            configurations: [],
            atMs: ev.atMs,
          });
        } else {
          submissions.set(ev.messageId, s);
        }
      }
    }
  }

  // ---- Integrity: every delivery is of a submitted message, intact, with its own attributes ---
  for (const [id, list] of deliveriesOf) {
    const sub = submissions.get(id);
    for (const { inc, d } of list) {
      let problem: string | undefined;
      if (d.ev.payloadProblem !== undefined) problem = d.ev.payloadProblem;
      else if (sub === undefined) problem = 'no such message was submitted';
      else if (sub.inc.h.daemon >>> 0 !== d.ev.sender >>> 0) problem = `sender reported as ${d.ev.sender >>> 0}, submitted by ${sub.inc.h.daemon >>> 0}`;
      else if (sub.ev.stream !== d.ev.stream) problem = `stream reported as ${d.ev.stream}, submitted on ${sub.ev.stream}`;
      else if (sub.ev.service !== d.ev.service) problem = `service reported as ${d.ev.service}, submitted as ${sub.ev.service}`;
      if (problem !== undefined) {
        report({
          property: 'integrity',
          description: `${inc.name} delivered ${id}: ${problem}`,
          daemons: [inc.h.daemon, d.ev.sender],
          messages: [id],
          configurations: [d.cKey],
          atMs: d.ev.atMs,
        });
      }
    }
  }

  // ---- 1. Configuration agreement: one member set per configuration ---------------------------
  for (const [key, c] of configs) {
    for (const { inc, atMs } of c.installers) {
      const mine = inc.configs.find((x) => x.key === key);
      if (mine && previousRingsText(mine.ev) !== previousRingsText(c.ev)) {
        const first = c.installers[0]!.inc;
        report({
          property: 'configuration-agreement',
          description: `configuration ${key}: ${first.name} records previous rings ${previousRingsText(c.ev)}, ${inc.name} records ${previousRingsText(mine.ev)}`,
          daemons: [first.h.daemon, inc.h.daemon],
          messages: [],
          configurations: [key],
          atMs,
        });
        break;
      }
      if (mine && !sameMembers(mine.ev.members, c.ev.members)) {
        const first = c.installers[0]!.inc;
        report({
          property: 'configuration-agreement',
          description: `configuration ${key}: ${first.name} installed members ${fmtMembers(c.ev.members)}, ${inc.name} installed ${fmtMembers(mine.ev.members)}`,
          daemons: [first.h.daemon, inc.h.daemon],
          messages: [],
          configurations: [key],
          atMs,
        });
        break;
      }
    }
  }

  // ---- 2. Delivery in one configuration -----------------------------------------------------
  for (const [id, list] of deliveriesOf) {
    const first = list[0]!;
    for (const other of list.slice(1)) {
      if (other.d.fKey !== first.d.fKey) {
        report({
          property: 'delivery-in-one-configuration',
          description: `${id} delivered in ${first.d.cKey} by ${first.inc.name} but in ${other.d.cKey} by ${other.inc.name}`,
          daemons: [first.inc.h.daemon, other.inc.h.daemon, first.d.ev.sender],
          messages: [id],
          configurations: [first.d.cKey, other.d.cKey],
          atMs: other.d.ev.atMs,
        });
        break;
      }
      if (other.d.ev.seq !== first.d.ev.seq) {
        report({
          property: 'delivery-in-one-configuration',
          description: `${id} delivered with seq ${first.d.ev.seq} by ${first.inc.name} but seq ${other.d.ev.seq} by ${other.inc.name}`,
          daemons: [first.inc.h.daemon, other.inc.h.daemon, first.d.ev.sender],
          messages: [id],
          configurations: [first.d.cKey, other.d.cKey],
          atMs: other.d.ev.atMs,
        });
        break;
      }
    }
    // The sender must be a member of the regular configuration the message belongs to.
    const reg = configs.get(first.d.fKey);
    if (reg !== undefined && !reg.ev.members.some((m) => m >>> 0 === first.d.ev.sender >>> 0)) {
      report({
        property: 'delivery-in-one-configuration',
        description: `${id} delivered in ${first.d.cKey} whose regular configuration ${first.d.fKey} ${fmtMembers(reg.ev.members)} does not include its sender ${first.d.ev.sender >>> 0}`,
        daemons: [first.inc.h.daemon, first.d.ev.sender],
        messages: [id],
        configurations: [first.d.cKey, first.d.fKey],
        atMs: first.d.ev.atMs,
      });
    }
  }

  // ---- 3. Self-delivery ---------------------------------------------------------------------
  for (const inc of incs) {
    if (inc.h.endedAtMs !== undefined || history.aborted !== undefined) continue;
    for (const s of inc.submits) {
      if (!reliableSet.has(s.ev.service)) continue;
      if (!inc.pos.has(s.ev.messageId)) {
        report({
          property: 'self-delivery',
          description: `${inc.name} submitted ${s.ev.messageId} at ${s.ev.atMs} ms, did not crash, and never delivered it`,
          daemons: [inc.h.daemon],
          messages: [s.ev.messageId],
          configurations: [],
          atMs: history.endAtMs,
        });
      }
    }
  }

  // ---- 4. Failure atomicity -----------------------------------------------------------------
  // Group daemons by (regular configuration C, next regular configuration C'): each group must
  // have delivered the same messages in C and the same in C's transitional configuration.
  {
    const groups = new Map<string, { inc: IncView; inC: ConfigSpan; inT: ConfigSpan | undefined }[]>();
    for (const inc of incs) {
      const regs: number[] = [];
      inc.configs.forEach((c, i) => {
        if (c.ev.type === 'regular') regs.push(i);
      });
      for (let r = 0; r < regs.length; r++) {
        const ci = regs[r]!;
        const nextIdx = regs[r + 1];
        const inC = inc.configs[ci]!;
        let nextKey: string;
        if (nextIdx !== undefined) nextKey = inc.configs[nextIdx]!.key;
        else if (history.quiescent && history.aborted === undefined && inc.h.endedAtMs === undefined) nextKey = '(end of run)';
        else continue;
        const last = nextIdx ?? inc.configs.length;
        const inT = inc.configs.slice(ci + 1, last).find((c) => c.ev.type === 'transitional');
        const gk = `${inC.key}->${nextKey}`;
        let g = groups.get(gk);
        if (g === undefined) {
          g = [];
          groups.set(gk, g);
        }
        g.push({ inc, inC, inT });
      }
    }
    for (const [gk, g] of groups) {
      const base = g[0]!;
      const reliable = (ids: string[]): Set<string> =>
        new Set(ids.filter((id) => {
          const s = submissions.get(id);
          return s === undefined || reliableSet.has(s.ev.service);
        }));
      const baseC = reliable(base.inC.delivered);
      const baseT = reliable(base.inT?.delivered ?? []);
      for (const other of g.slice(1)) {
        for (const [label, a, b] of [
          ['regular', baseC, reliable(other.inC.delivered)],
          ['transitional', baseT, reliable(other.inT?.delivered ?? [])],
        ] as const) {
          const diff = [...a].filter((x) => !b.has(x)).concat([...b].filter((x) => !a.has(x)));
          if (diff.length > 0) {
            report({
              property: 'failure-atomicity',
              description: `${base.inc.name} and ${other.inc.name} both moved ${gk} but delivered different messages in the ${label} configuration: ${diff.slice(0, 5).join(', ')}${diff.length > 5 ? ` (+${diff.length - 5})` : ''} delivered by only one`,
              daemons: [base.inc.h.daemon, other.inc.h.daemon],
              messages: diff.slice(0, 5),
              configurations: [base.inC.key, ...(base.inT ? [base.inT.key] : [])],
            });
            break;
          }
        }
      }
    }
  }

  // ---- 5. Total order -----------------------------------------------------------------------
  {
    const serviceOf = (d: Delivered): ServiceLevel => d.ev.service;
    const seqs = incs.map((inc) => inc.delivered.filter((d) => totalSet.has(serviceOf(d))).map((d) => d.id));
    const positions = seqs.map((s) => new Map(s.map((id, i) => [id, i] as const)));
    let pairViolation = false;
    for (let i = 0; i < incs.length && !pairViolation; i++) {
      const posI = positions[i]!;
      for (let j = i + 1; j < incs.length && !pairViolation; j++) {
        let lastPos = -1;
        let lastId = '';
        for (const id of seqs[j]!) {
          const p = posI.get(id);
          if (p === undefined) continue;
          if (p < lastPos) {
            const at = (inc: IncView, m: string): Delivered => inc.delivered[inc.pos.get(m)!]!;
            const involved = [at(incs[i]!, id), at(incs[i]!, lastId), at(incs[j]!, id), at(incs[j]!, lastId)];
            report({
              property: 'total-order',
              description: `${incs[i]!.name} delivered ${id} before ${lastId}; ${incs[j]!.name} delivered ${lastId} before ${id}`,
              daemons: [incs[i]!.h.daemon, incs[j]!.h.daemon],
              messages: [lastId, id],
              configurations: [...new Set(involved.map((d) => d.cKey))],
              atMs: Math.max(...involved.map((d) => d.ev.atMs)),
            });
            pairViolation = true;
            break;
          }
          lastPos = p;
          lastId = id;
        }
      }
    }
    if (!pairViolation) {
      // Pairwise agreement does not rule out a cycle through three daemons: look for a global order.
      const succ = new Map<string, Set<string>>();
      const indeg = new Map<string, number>();
      for (const s of seqs) {
        for (let k = 0; k < s.length; k++) {
          const id = s[k]!;
          if (!indeg.has(id)) indeg.set(id, 0);
          if (k + 1 < s.length) {
            const next = s[k + 1]!;
            let out = succ.get(id);
            if (out === undefined) {
              out = new Set();
              succ.set(id, out);
            }
            if (!out.has(next)) {
              out.add(next);
              indeg.set(next, (indeg.get(next) ?? 0) + 1);
            }
          }
        }
      }
      const ready = [...indeg].filter(([, n]) => n === 0).map(([id]) => id);
      let seen = 0;
      while (ready.length > 0) {
        const id = ready.pop()!;
        seen++;
        for (const next of succ.get(id) ?? []) {
          const n = indeg.get(next)! - 1;
          indeg.set(next, n);
          if (n === 0) ready.push(next);
        }
      }
      if (seen < indeg.size) {
        const cyclic = [...indeg].filter(([, n]) => n > 0).map(([id]) => id);
        const involved = incs.filter((inc) => cyclic.some((id) => inc.pos.has(id)));
        report({
          property: 'total-order',
          description: `no global delivery order exists: messages ${cyclic.slice(0, 6).join(', ')} are ordered in a cycle across ${involved.map((x) => x.name).join(', ')}`,
          daemons: involved.map((x) => x.h.daemon),
          messages: cyclic.slice(0, 6),
          configurations: [],
        });
      }
    }
  }

  // ---- 6. Causal order ----------------------------------------------------------------------
  // m' causally precedes m if m's sender had delivered m' before submitting m. Checked for
  // predecessors the sender delivered in the regular configuration (or its transitional one) it
  // was in when it submitted m: every daemon that delivers m must have delivered m' before it,
  // and if it delivers m in that same configuration, it must deliver m' too.
  for (const p of incs) {
    const causalSubs = p.submits.filter((s) => causalSet.has(s.ev.service));
    if (causalSubs.length === 0) continue;
    for (const q of incs) {
      // Running over p's deliveries: the highest position at q of a causal predecessor so far in
      // the family, and the latest causal predecessor q never delivered.
      const maxPosQ: number[] = new Array(p.delivered.length + 1);
      const missingAtQ: (string | undefined)[] = new Array(p.delivered.length + 1);
      let curMax = -1;
      let curMissing: string | undefined;
      let curFamily = '';
      maxPosQ[0] = -1;
      missingAtQ[0] = undefined;
      for (let k = 0; k < p.delivered.length; k++) {
        const d = p.delivered[k]!;
        if (d.fKey !== curFamily) {
          curFamily = d.fKey;
          curMax = -1;
          curMissing = undefined;
        }
        if (causalSet.has(d.ev.service)) {
          const at = q.pos.get(d.id);
          if (at === undefined) curMissing = d.id;
          else if (at > curMax) curMax = at;
        }
        maxPosQ[k + 1] = curMax;
        missingAtQ[k + 1] = curMissing;
      }
      for (const s of causalSubs) {
        const k = s.ev.deliveredBefore;
        if (k <= s.familyStart || k > p.delivered.length) continue;
        // Only predecessors inside the submit-time family count; running values reset at family
        // changes, and the family at index k-1 is the submit-time family when k > familyStart.
        if (p.delivered[k - 1]!.fKey !== s.fKey) continue;
        const at = q.pos.get(s.ev.messageId);
        if (at === undefined) continue;
        const dq = q.delivered[at]!;
        if (maxPosQ[k]! > at) {
          const predecessor = q.delivered[maxPosQ[k]!]!.id;
          report({
            property: 'causal-order',
            description: `${p.name} delivered ${predecessor} before submitting ${s.ev.messageId}, but ${q.name} delivered ${s.ev.messageId} before ${predecessor}`,
            daemons: [p.h.daemon, q.h.daemon],
            messages: [predecessor, s.ev.messageId],
            configurations: [s.fKey, dq.cKey],
            atMs: dq.ev.atMs,
          });
        } else if (missingAtQ[k] !== undefined && dq.fKey === s.fKey) {
          const predecessor = missingAtQ[k]!;
          report({
            property: 'causal-order',
            description: `${p.name} delivered ${predecessor} before submitting ${s.ev.messageId}; ${q.name} delivered ${s.ev.messageId} in ${dq.cKey} without ever delivering ${predecessor}`,
            daemons: [p.h.daemon, q.h.daemon],
            messages: [predecessor, s.ev.messageId],
            configurations: [s.fKey, dq.cKey],
            atMs: dq.ev.atMs,
          });
        }
      }
    }
  }

  // ---- 7. FIFO per (sender incarnation, stream) ---------------------------------------------
  {
    // Counters of each sender stream delivered by anyone, per family.
    const familyCounters = new Map<string, Set<number>>();
    for (const [id, list] of deliveriesOf) {
      const sub = submissions.get(id);
      if (sub === undefined || !fifoSet.has(sub.ev.service)) continue;
      const key = parseMessageId(id);
      if (key === undefined) continue;
      for (const { d } of list) {
        const fk = `${key.daemon}/${key.incarnation}/${key.stream}@${d.fKey}`;
        let set = familyCounters.get(fk);
        if (set === undefined) {
          set = new Set();
          familyCounters.set(fk, set);
        }
        set.add(key.counter);
      }
    }
    for (const q of incs) {
      const last = new Map<string, { counter: number; id: string }>();
      const maxInFamily = new Map<string, { counter: number; id: string; d: Delivered }>();
      const seenInFamily = new Map<string, Set<number>>();
      for (const d of q.delivered) {
        const sub = submissions.get(d.id);
        if (sub === undefined || !fifoSet.has(sub.ev.service)) continue;
        const key = parseMessageId(d.id);
        if (key === undefined) continue;
        const streamKey = `${key.daemon}/${key.incarnation}/${key.stream}`;
        const prev = last.get(streamKey);
        if (prev !== undefined && prev.counter > key.counter) {
          report({
            property: 'fifo-order',
            description: `${q.name} delivered ${prev.id} before ${d.id}, submitted in the other order on one stream`,
            daemons: [q.h.daemon, key.daemon],
            messages: [d.id, prev.id],
            configurations: [d.cKey],
            atMs: d.ev.atMs,
          });
        }
        last.set(streamKey, { counter: key.counter, id: d.id });
        const fk = `${streamKey}@${d.fKey}`;
        const mx = maxInFamily.get(fk);
        if (mx === undefined || key.counter > mx.counter) maxInFamily.set(fk, { counter: key.counter, id: d.id, d });
        let seen = seenInFamily.get(fk);
        if (seen === undefined) {
          seen = new Set();
          seenInFamily.set(fk, seen);
        }
        seen.add(key.counter);
      }
      // No gaps: within one configuration, an earlier message of the stream that anyone
      // delivered there must be delivered by whoever delivers a later one there.
      for (const [fk, mx] of maxInFamily) {
        const all = familyCounters.get(fk);
        const seen = seenInFamily.get(fk)!;
        if (all === undefined) continue;
        for (const c of all) {
          if (c < mx.counter && !seen.has(c)) {
            const key = parseMessageId(mx.id)!;
            const missing = `${key.daemon}/${key.incarnation}/${key.stream}/${c}`;
            report({
              property: 'fifo-order',
              description: `${q.name} delivered ${mx.id} in ${mx.d.cKey} but not ${missing}, sent earlier on the same stream and delivered in that configuration by others`,
              daemons: [q.h.daemon, key.daemon],
              messages: [missing, mx.id],
              configurations: [mx.d.cKey],
              atMs: mx.d.ev.atMs,
            });
            break;
          }
        }
      }
    }
  }

  // ---- 8. Safe delivery ---------------------------------------------------------------------
  {
    const byDaemon = new Map<number, IncView[]>();
    for (const inc of incs) {
      const k = inc.h.daemon >>> 0;
      const list = byDaemon.get(k) ?? [];
      list.push(inc);
      byDaemon.set(k, list);
    }
    const checked = new Set<string>();
    for (const [id, list] of deliveriesOf) {
      for (const { inc, d } of list) {
        if (d.ev.service !== Service.SAFE || d.config?.type !== 'regular') continue;
        const ck = `${id}@${d.cKey}`;
        if (checked.has(ck)) continue;
        checked.add(ck);
        for (const member of d.config.members) {
          const candidates = byDaemon.get(member >>> 0) ?? [];
          const installed = candidates.find((x) => x.configs.some((c) => c.key === d.cKey));
          // The incarnation that should deliver: the one that installed C, else the one running
          // when the message was delivered here.
          const r =
            installed ??
            candidates.find((x) => x.h.startedAtMs <= d.ev.atMs && (x.h.endedAtMs === undefined || x.h.endedAtMs >= d.ev.atMs));
          if (r === undefined || r.h.endedAtMs !== undefined) continue; // crashed: excused
          const at = r.pos.get(id);
          const ok = at !== undefined && r.delivered[at]!.fKey === d.fKey;
          if (!ok) {
            report({
              property: 'safe-delivery',
              description:
                installed === undefined
                  ? `${inc.name} delivered SAFE ${id} in ${d.cKey} ${fmtMembers(d.config.members)}, but member ${r.name} never installed that configuration and did not crash`
                  : `${inc.name} delivered SAFE ${id} in ${d.cKey}, but member ${r.name} did not crash and did not deliver it there or in its transitional configuration`,
              daemons: [inc.h.daemon, r.h.daemon],
              messages: [id],
              configurations: [d.cKey],
              atMs: d.ev.atMs,
            });
          }
        }
      }
    }
  }

  // ---- 9. Liveness --------------------------------------------------------------------------
  if (history.healAtMs !== undefined && history.aborted === undefined) {
    const bound = history.healAtMs + (history.livenessBoundMs ?? Infinity);
    const alive = incs.filter((inc) => inc.h.endedAtMs === undefined);
    const aliveDaemons = alive.map((inc) => inc.h.daemon);
    const finals = alive.map((inc) => {
      const regs = inc.configs.filter((c) => c.ev.type === 'regular');
      return { inc, last: regs[regs.length - 1], lastAny: inc.configs[inc.configs.length - 1] };
    });
    const problems: string[] = [];
    const first = finals[0];
    for (const f of finals) {
      if (f.last === undefined) {
        problems.push(`${f.inc.name} installed no regular configuration`);
      } else if (f.lastAny !== f.last) {
        problems.push(`${f.inc.name} ended in transitional configuration ${f.lastAny?.key}`);
      } else if (!sameMembers(f.last.ev.members, aliveDaemons)) {
        problems.push(`${f.inc.name} ended in ${f.last.key} ${fmtMembers(f.last.ev.members)}, not all running daemons ${fmtMembers(aliveDaemons)}`);
      } else if (first?.last !== undefined && f.last.key !== first.last.key) {
        problems.push(`${f.inc.name} ended in ${f.last.key}, ${first.inc.name} in ${first.last.key}`);
      } else if (f.last.ev.atMs > bound) {
        problems.push(`${f.inc.name} installed ${f.last.key} at ${f.last.ev.atMs} ms, after the bound ${bound} ms`);
      }
    }
    if (problems.length > 0) {
      report({
        property: 'liveness',
        description: `after healing at ${history.healAtMs} ms: ${problems.slice(0, 4).join('; ')}${problems.length > 4 ? ` (+${problems.length - 4} more)` : ''}`,
        daemons: aliveDaemons,
        messages: [],
        configurations: [...new Set(finals.map((f) => f.lastAny?.key).filter((k): k is string => k !== undefined))],
        atMs: history.endAtMs,
      });
    }
  }

  const violated = PROPERTIES.filter((p) => (counts.get(p) ?? 0) > 0);
  return {
    ok: violated.length === 0,
    violations,
    violated,
    stats: { incarnations: incs.length, configurations: configs.size, submitted: submissions.size, deliveries: deliveryCount },
  };
}
