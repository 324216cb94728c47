/**
 * Group access control: which authenticated identities may join which groups, send to which
 * groups, and send to private groups. The rules file format (pure parsing here; loading in load.ts):
 *
 *   # comment
 *   <identity-pattern>  <actions>  allow|deny  <group-pattern>
 *
 * identity: `password:<user>`, `key:<identity>`, `ip:<address>`, or `null` (no authentication).
 * actions: `join`, `send`, `send-private`, a comma-separated list of these, or `*` for all three.
 * Patterns are globs (glob.ts) over the whole string. For `send-private` the group pattern matches
 * the private group name `#<name>#<daemon>`. The first rule whose identity, action and group all
 * match decides; when none matches, the answer is deny. Leaving a group is always allowed.
 */
import { ConfigError } from '../util/errors.js';
import { compileGlob, type Glob } from './glob.js';

export type AclAction = 'join' | 'send' | 'send-private';
export const ACL_ACTIONS: readonly AclAction[] = Object.freeze(['join', 'send', 'send-private']);

export const aclRulesMax = 10_000;
export const aclLineCharsMax = 1024;

export interface AclRule {
  readonly identity: Glob;
  readonly actions: ReadonlySet<AclAction>;
  readonly allow: boolean;
  readonly group: Glob;
  /** Where the rule came from, for logs: `file:line`. */
  readonly origin: string;
}

export interface AclDecision {
  readonly allowed: boolean;
  /** The rule that decided, or undefined when the default deny did. */
  readonly rule?: AclRule;
}

export class AclPolicy {
  readonly rules: readonly AclRule[];
  readonly source: string;

  constructor(rules: readonly AclRule[], source: string) {
    this.rules = rules;
    this.source = source;
  }

  check(identity: string, action: AclAction, group: string): boolean {
    return this.decide(identity, action, group).allowed;
  }

  decide(identity: string, action: AclAction, group: string): AclDecision {
    for (const rule of this.rules) {
      if (rule.actions.has(action) && rule.identity.matches(identity) && rule.group.matches(group)) {
        return { allowed: rule.allow, rule };
      }
    }
    return { allowed: false };
  }
}

/** The action a send to `group` needs: private group names start with '#'. */
export function sendActionFor(group: string): AclAction {
  return group.startsWith('#') ? 'send-private' : 'send';
}

function parseActions(text: string): Set<AclAction> | undefined {
  if (text === '*') return new Set(ACL_ACTIONS);
  const out = new Set<AclAction>();
  for (const part of text.split(',')) {
    if (!(ACL_ACTIONS as readonly string[]).includes(part)) return undefined;
    out.add(part as AclAction);
  }
  return out;
}

export function parseAcl(text: string, file: string): AclPolicy {
  const rules: AclRule[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!.replace(/\r$/, '');
    const lineNo = i + 1;
    if (raw.length > aclLineCharsMax) throw new ConfigError(file, lineNo, `line longer than ${aclLineCharsMax} characters`);
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const fields = line.split(/\s+/);
    if (fields.length !== 4) {
      throw new ConfigError(file, lineNo, `expected 4 fields "<identity-pattern> <join|send|send-private|*> <allow|deny> <group-pattern>", got ${fields.length}`);
    }
    const [identityText, actionText, verdict, groupText] = fields as [string, string, string, string];
    const actions = parseActions(actionText);
    if (!actions) throw new ConfigError(file, lineNo, `"${actionText}" is not an action: use join, send, send-private, a comma list of them, or *`);
    if (verdict !== 'allow' && verdict !== 'deny') throw new ConfigError(file, lineNo, `"${verdict}" must be allow or deny`);
    if (!/^(\*|null|(password|key|ip|\*):\S+)$/.test(identityText) && !/^[*?]/.test(identityText)) {
      throw new ConfigError(file, lineNo, `identity pattern "${identityText}" must be null, *, or start with password:, key: or ip:`);
    }
    let identity: Glob;
    let group: Glob;
    try {
      identity = compileGlob(identityText);
      group = compileGlob(groupText);
    } catch (e) {
      throw new ConfigError(file, lineNo, (e as Error).message);
    }
    if (rules.length >= aclRulesMax) throw new ConfigError(file, lineNo, `more than ${aclRulesMax} rules`);
    rules.push({ identity, actions, allow: verdict === 'allow', group, origin: `${file}:${lineNo}` });
  }
  return new AclPolicy(rules, file);
}
