/**
 * Requests as Slack sends them to a Request URL: form-encoded slash commands, block_actions
 * as a form field `payload=<json>`, Events API JSON — each signed the v0 way,
 * `v0=` + HMAC-SHA256(signing secret, `v0:{timestamp}:{raw body}`), with the timestamp header.
 * Options forge the failures the receiver must refuse (stale timestamp, wrong secret, a body
 * changed after signing) and add the redelivery headers.
 */
import { createHmac } from 'node:crypto';

export function slackSignature(secret: string, timestampS: number, body: string): string {
  return `v0=${createHmac('sha256', secret).update(`v0:${timestampS}:${body}`).digest('hex')}`;
}

export interface SignedPostOptions {
  /** Seconds since the epoch (default now). */
  timestampS?: number;
  /** Sign with this secret instead (a forged request). */
  signWith?: string;
  /** The body actually sent, after signing the original. */
  tamper?: (body: string) => string;
  retryNum?: number;
  retryReason?: string;
}

export interface SignedResponse {
  status: number;
  text: string;
  /** Milliseconds from sending to the full answer. */
  ms: number;
  json(): any;
}

export async function postSigned(url: string, secret: string, body: string, contentType: string, opts: SignedPostOptions = {}): Promise<SignedResponse> {
  const ts = opts.timestampS ?? Math.floor(Date.now() / 1000);
  const headers: Record<string, string> = {
    'content-type': contentType,
    'x-slack-request-timestamp': String(ts),
    'x-slack-signature': slackSignature(opts.signWith ?? secret, ts, body),
  };
  if (opts.retryNum !== undefined) headers['x-slack-retry-num'] = String(opts.retryNum);
  if (opts.retryReason) headers['x-slack-retry-reason'] = opts.retryReason;
  const started = Date.now();
  const res = await fetch(url, { method: 'POST', headers, body: opts.tamper ? opts.tamper(body) : body, signal: AbortSignal.timeout(15_000) });
  const text = await res.text();
  return { status: res.status, text, ms: Date.now() - started, json: () => JSON.parse(text) };
}

export const FORM = 'application/x-www-form-urlencoded';
export const JSON_TYPE = 'application/json';

export function formBody(fields: Record<string, string>): string {
  return new URLSearchParams(fields).toString();
}

/** A block_actions (or other interactivity) payload as Slack posts it. */
export function interactionBody(payload: unknown): string {
  return formBody({ payload: JSON.stringify(payload) });
}
