import { describe, expect, it } from 'vitest';
import { mayPress, parsePressPolicy } from '../../commands/press-policy.ts';
import { origin, rolesOf } from '../support/command-context.ts';

describe('press policy', () => {
  it('parses the three forms and refuses anything else', () => {
    expect(parsePressPolicy('requester')).toEqual({ kind: 'requester' });
    expect(parsePressPolicy(' anyone ')).toEqual({ kind: 'anyone' });
    expect(parsePressPolicy('roles:111,222')).toEqual({ kind: 'roles', roleIds: ['111', '222'] });
    for (const bad of ['', 'everyone', 'roles:', 'roles:,', 'ROLES:1']) expect(() => parsePressPolicy(bad)).toThrow('PRESS_POLICY must be');
  });

  const requester = origin({ userId: 'u1', workspaceId: 'g1' });
  const cases: Array<[string, string, Parameters<typeof origin>[0], boolean]> = [
    ['requester', 'the requester', { userId: 'u1' }, true],
    ['requester', 'someone else', { userId: 'u2' }, false],
    ['requester', 'the same id on another platform', { userId: 'u1', platform: 'slack' }, false],
    ['anyone', 'someone else', { userId: 'u2' }, true],
    ['anyone', 'someone in another workspace', { userId: 'u2', workspaceId: 'g2' }, false],
    ['anyone', 'someone on another platform', { userId: 'u2', platform: 'slack' }, false],
    ['roles:900', 'a holder of the role', { userId: 'u2', platformData: { roleIds: ['1', '900'] } }, true],
    ['roles:900', 'someone without it', { userId: 'u2', platformData: { roleIds: ['1'] } }, false],
    ['roles:900', 'someone with no roles listed', { userId: 'u2' }, false],
    ['roles:900', 'the requester without the role', { userId: 'u1', platformData: { roleIds: [] } }, true],
  ];
  it.each(cases)('%s lets %s press: %s', (policy, _who, presser, allowed) => {
    const who = origin({ workspaceId: 'g1', ...presser });
    expect(mayPress(parsePressPolicy(policy), requester, who, rolesOf(who))).toBe(allowed);
  });

  it('roles mean nothing on Slack, which has none', () => {
    const slackRequester = origin({ platform: 'slack', userId: 'U1', workspaceId: 'T1' });
    const presser = origin({ platform: 'slack', userId: 'U2', workspaceId: 'T1', platformData: { roleIds: ['900'] } });
    expect(mayPress(parsePressPolicy('roles:900'), slackRequester, presser, rolesOf(presser))).toBe(false);
  });
});
