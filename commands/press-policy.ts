/**
 * Who may press the buttons (or react) on someone else's result, from PRESS_POLICY:
 *   requester        only the person who asked for it (the default)
 *   anyone           everyone who can see the message
 *   roles:<id>,<id>  the requester, plus holders of any of these Discord roles
 * The requester may always press their own buttons. Roles are the platform's (its module's
 * pressRoles: Discord's member roles); on a platform without roles (Slack, the web) a roles
 * policy means the requester only.
 */
import type { Origin } from '../src/jobs.ts';

export type PressPolicy = { kind: 'requester' } | { kind: 'anyone' } | { kind: 'roles'; roleIds: string[] };

export function parsePressPolicy(text: string): PressPolicy {
  const value = text.trim();
  if (value === 'requester') return { kind: 'requester' };
  if (value === 'anyone') return { kind: 'anyone' };
  const m = /^roles:([\w,-]+)$/.exec(value);
  const roleIds = m ? m[1].split(',').map((r) => r.trim()).filter(Boolean) : [];
  if (roleIds.length === 0) throw new Error('PRESS_POLICY must be requester, anyone, or roles:<id>,<id>');
  return { kind: 'roles', roleIds };
}

const samePerson = (a: Origin, b: Origin) => a.platform === b.platform && a.userId === b.userId;

/** May `presser` (holding `presserRoles` on their platform) act on a result (or failed job) that `requester` asked for? */
export function mayPress(policy: PressPolicy, requester: Origin, presser: Origin, presserRoles: readonly string[]): boolean {
  if (samePerson(requester, presser)) return true;
  // Other people's results are only reachable from the same platform and workspace.
  if (requester.platform !== presser.platform || (requester.workspaceId ?? '') !== (presser.workspaceId ?? '')) return false;
  if (policy.kind === 'anyone') return true;
  if (policy.kind === 'roles') return presserRoles.some((r) => policy.roleIds.includes(r));
  return false;
}

export function notAllowedMessage(policy: PressPolicy): string {
  return policy.kind === 'roles'
    ? 'Only the person who asked for this image, or members with an allowed role, can use these buttons.'
    : 'Only the person who asked for this image can use these buttons.';
}
