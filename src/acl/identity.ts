/**
 * The identity a session is checked under. The strongest method that succeeded names it: a keyed
 * method's identity (`password:<user>`, `key:<identity>`), else `ip:<address>` when the IP method
 * admitted the session, else `null`.
 */
export interface SessionAuthFacts {
  /** From a keyed method's accepted result (`identity`). */
  readonly keyedIdentity?: string;
  /** The peer address, when the IP method ran and admitted it. */
  readonly ipAddress?: string;
}

export function sessionIdentity(facts: SessionAuthFacts): string {
  if (facts.keyedIdentity !== undefined) return facts.keyedIdentity;
  if (facts.ipAddress !== undefined) return `ip:${facts.ipAddress}`;
  return 'null';
}
