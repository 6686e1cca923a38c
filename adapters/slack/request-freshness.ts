/**
 * Slack signs `v0:{timestamp}:{body}` and asks apps to refuse requests whose timestamp is more
 * than five minutes from their clock, so a captured request cannot be replayed later. Bolt's
 * HTTP receiver refuses only old timestamps; one dated in the future would be accepted, and
 * could then be replayed until that future passed. This check runs in front of Bolt on every
 * request to /slack/events (the only way Slack requests reach the process over HTTP; Socket
 * Mode requests arrive over a connection the app opened itself and carry no signature).
 */
import type { IncomingMessage } from 'node:http';

export const SLACK_MAX_CLOCK_SKEW_S = 5 * 60;

/** Why a request's timestamp is refused, or null when it is within the allowed skew in either direction. */
export function slackTimestampProblem(req: Pick<IncomingMessage, 'headers'>, nowMs: number = Date.now()): string | null {
  const raw = req.headers['x-slack-request-timestamp'];
  const value = Array.isArray(raw) ? raw[0] : raw;
  if (!value || !/^\d{1,12}$/.test(value)) return 'missing or malformed x-slack-request-timestamp';
  const skewS = Math.abs(Math.floor(nowMs / 1000) - Number(value));
  return skewS > SLACK_MAX_CLOCK_SKEW_S ? `x-slack-request-timestamp is ${skewS} s from the server clock (at most ${SLACK_MAX_CLOCK_SKEW_S} s allowed)` : null;
}
