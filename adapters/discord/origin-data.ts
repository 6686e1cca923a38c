/** What Discord keeps in a job's origin (`origin.platformData`): read and written only here. */
import { z } from 'zod';
import type { Origin } from '../../src/jobs.ts';

export const discordOriginDataSchema = z.object({
  /** The application id, needed for interaction webhook routes. */
  applicationId: z.string().max(32).optional(),
  /** The member's role ids, for role-based press policies. */
  roleIds: z.array(z.string().max(32)).max(250).optional(),
});
export type DiscordOriginData = z.infer<typeof discordOriginDataSchema>;

/** Discord's data in an origin; empty for another platform's origin or for data that does not fit. */
export function discordOriginData(origin: Origin): DiscordOriginData {
  if (origin.platform !== 'discord') return {};
  const parsed = discordOriginDataSchema.safeParse(origin.platformData ?? {});
  return parsed.success ? parsed.data : {};
}
