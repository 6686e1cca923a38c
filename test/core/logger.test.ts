import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, REDACTED } from '../../src/logger.ts';
import { PLATFORMS } from '../../src/root/platforms.ts';

function capture() {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _enc, cb) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      cb();
    },
  });
  return { lines, destination };
}

const env = {
  DISCORD_TOKEN: 'MTIzNDU2Nzg5MDEyMzQ1Njc4.GaBcDe.abcdefghijklmnopqrstuvwxyz012345',
  SLACK_BOT_TOKEN: 'xoxb-1111-2222-abcdefSECRET',
  SLACK_SIGNING_SECRET: 'plainsigningsecret9876',
  SLACK_APP_TOKEN: 'xapp-1-A0-123-deadbeefcafe',
};
const interactionToken = 'aW50ZXJhY3Rpb246MTIzNDU2Nzg5MDEyMzQ1Njc4OkFCQ0RFRkdISUpLTE1OT1A';
const responseUrl = 'https://hooks.slack.com/actions/T000/1234/zyxwvutsrqponm';

describe('logger redaction', () => {
  it('never writes a configured secret, a token-shaped value or a secret field to the output', async () => {
    const { lines, destination } = capture();
    const log = createLogger({ destination, env, level: 'trace', platforms: PLATFORMS });
    // Secrets in every place a careless log call could put them.
    log.info({ config: { ...env, PORT: 3000 } }, 'starting');
    log.info({ token: interactionToken, secret: 'whole-object', ctx: { platform: 'discord', interactionToken } }, 'job secret loaded');
    log.info({ responseUrl, nested: { deeper: { response_url: responseUrl } } }, 'slack');
    log.warn(`posting with ${env.SLACK_BOT_TOKEN} signed by ${env.SLACK_SIGNING_SECRET}`);
    log.error({ err: new Error(`PATCH /webhooks/123456789012345678/${interactionToken}/messages/@original failed`) }, 'delivery failed');
    log.error({ headers: { authorization: `Bot ${env.DISCORD_TOKEN}` } }, 'request');
    log.debug({ url: `https://discord.com/api/v10/interactions/99887766554433/${interactionToken}/callback` }, 'ack');
    log.info({ text: `app token ${env.SLACK_APP_TOKEN} and user token xoxp-9-8-7-abc` }, 'tokens inline');
    log.flush?.();
    await new Promise((r) => setTimeout(r, 20));

    const output = lines.join('\n');
    expect(lines).toHaveLength(8);
    for (const value of [...Object.values(env), interactionToken, responseUrl, 'xoxp-9-8-7-abc']) {
      expect(output).not.toContain(value);
    }
    // What is kept stays readable: the message, non-secret fields, the route shape.
    const parsed = lines.map((l) => JSON.parse(l));
    expect(parsed[0].msg).toBe('starting');
    expect(parsed[0].config.PORT).toBe(3000);
    expect(parsed[0].config.DISCORD_TOKEN).toBe(REDACTED);
    expect(parsed[1].token).toBe(REDACTED);
    expect(parsed[1].secret).toBe(REDACTED);
    expect(parsed[1].ctx.interactionToken).toBe(REDACTED);
    expect(parsed[1].ctx.platform).toBe('discord');
    expect(parsed[2].nested.deeper.response_url).toBe(REDACTED);
    expect(parsed[3].msg).toBe(`posting with ${REDACTED} signed by ${REDACTED}`);
    expect(parsed[4].err.message).toBe(`PATCH /webhooks/123456789012345678/${REDACTED}/messages/@original failed`);
    expect(parsed[6].url).toBe(`https://discord.com/api/v10/interactions/99887766554433/${REDACTED}/callback`);
  });

  it('respects the level', async () => {
    const { lines, destination } = capture();
    const log = createLogger({ destination, env: {}, level: 'warn', platforms: PLATFORMS });
    log.info('hidden');
    log.warn('shown');
    await new Promise((r) => setTimeout(r, 20));
    expect(lines.map((l) => JSON.parse(l).msg)).toEqual(['shown']);
  });
});
