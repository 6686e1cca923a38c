/**
 * Discord's part of a job's origin (origin.platformData): what it reads, and what it makes of
 * jobs queued before the field existed (their application id and roles sat on the origin itself).
 */
import { describe, expect, it } from 'vitest';
import { discordOriginData } from '../../../adapters/discord/origin-data.ts';
import { parseJobPayload } from '../../../src/jobs.ts';
import { txt2imgPayload } from '../../../kit/job-fixtures.ts';

describe("Discord's origin data", () => {
  it('reads the application id and roles a Discord origin carries, and nothing from another platform', () => {
    const payload = parseJobPayload(txt2imgPayload({ origin: { platform: 'discord', platformData: { applicationId: '5000005', roleIds: ['1', '2'] } } }));
    expect(discordOriginData(payload.origin)).toEqual({ applicationId: '5000005', roleIds: ['1', '2'] });
    const slack = parseJobPayload(txt2imgPayload({ origin: { platform: 'slack', platformData: { roleIds: ['1'] } } }));
    expect(discordOriginData(slack.origin)).toEqual({});
    // Data that does not fit Discord's schema is none at all, not half of it.
    expect(discordOriginData({ ...payload.origin, platformData: { roleIds: 'not-a-list' } })).toEqual({});
  });

  it('still runs a job queued before the upgrade: same version, the old fields dropped (the deliverer then uses DISCORD_APP_ID)', () => {
    const before = txt2imgPayload({ origin: { platform: 'discord' } });
    const old = { ...before, origin: { ...before.origin, applicationId: '5000005', roleIds: ['1'] } };
    const parsed = parseJobPayload(old);
    expect(parsed.v).toBe(1);
    expect(parsed.origin).toEqual(before.origin);
    expect(discordOriginData(parsed.origin)).toEqual({});
  });
});
