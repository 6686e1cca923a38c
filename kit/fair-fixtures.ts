/** The arrivals the fair-turn tests and the fairness bench share. */
import type { JobPayload } from '../src/jobs.ts';
import { txt2imgPayload } from './job-fixtures.ts';

export const USERS = 30;

export const jobBy = (userId: string, workspaceId: string, label: string): JobPayload =>
  txt2imgPayload({ origin: { userId, workspaceId }, prompt: label });

/**
 * 100 jobs from 30 users in 2 servers, each user's jobs at once (the case first come, first
 * served handles worst): users 0-9 ask for 4, users 10-29 for 3; user i is in server i % 2.
 */
export function burst(): JobPayload[] {
  const out: JobPayload[] = [];
  for (let u = 0; u < USERS; u++) {
    for (let k = 0; k < (u < 10 ? 4 : 3); k++) out.push(jobBy(`user-${u}`, `guild-${u % 2}`, `user-${u} #${k}`));
  }
  return out;
}

