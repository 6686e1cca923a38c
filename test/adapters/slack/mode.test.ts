/** Slack's connection mode: HTTP with a signing secret, Socket Mode with an app token (preferred when both are set). */
import { describe, expect, it } from 'vitest';
import { slackMode } from '../../../adapters/slack/bot.ts';
import { loadConfig } from '../../../src/root/config.ts';

describe('Slack mode', () => {
  const base = { SLACK_BOT_TOKEN: 'xoxb-1-2' };
  it('uses HTTP with a signing secret, Socket Mode with an app token (preferred when both are set)', () => {
    expect(slackMode(loadConfig({ ...base, SLACK_SIGNING_SECRET: 'secret-123' }))).toBe('http');
    expect(slackMode(loadConfig({ ...base, SLACK_APP_TOKEN: 'xapp-1-2' }))).toBe('socket');
    expect(slackMode(loadConfig({ ...base, SLACK_SIGNING_SECRET: 'secret-123', SLACK_APP_TOKEN: 'xapp-1-2' }))).toBe('socket');
  });
});
