/**
 * The Slack adapter's pure parts: text in and out of Slack, Block Kit rendering within the
 * platform's limits, the reaction map, the channel pacer, the mode choice, and the README's
 * app manifest (it must describe what the code serves).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { ChannelPacer } from '../adapters/slack/channel-pacer.ts';
import { SLACK_EVENTS_PATH, slackMode } from '../adapters/slack/bot.ts';
import { DEFAULT_SLACK_REACTIONS, describeSlackReactions, parseSlackReactions } from '../adapters/slack/reactions.ts';
import { BLOCK_KIT_LIMITS, blockKitProblems, renderFailure, renderParent, renderResult, renderStatus, statusLine } from '../adapters/slack/render.ts';
import { escapeMrkdwn, fromSlackText, mention, Mrkdwn, mrkdwn, quotePrompt, toMrkdwn } from '../adapters/slack/slack-text.ts';
import { ConfigError } from '../src/config.ts';
import { loadConfig } from '../src/root/config.ts';
import { JOB_VERSION, jobPayloadSchema, parseJobResult, type JobPayload } from '../src/jobs.ts';
import { MemoryKeyValueStore } from '../src/kv-memory.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function payload(prompt: string, n = 4): JobPayload {
  return jobPayloadSchema.parse({
    v: JOB_VERSION,
    kind: 'txt2img',
    origin: { platform: 'slack', workspaceId: 'T1', channelId: 'C1', threadId: '1.000001', userId: 'U1', messageId: '1.000002' },
    params: { prompt, negativePrompt: '', seed: 9, steps: 20, guidance: 7, width: 512, height: 512, n, sampler: 'euler_a', model: 'sd15' },
    createdAt: 0,
  });
}

function result(p: JobPayload) {
  return parseJobResult({
    v: JOB_VERSION,
    resultId: 'r_' + 'x'.repeat(62),
    jobId: 'j1',
    kind: 'txt2img',
    params: p.params,
    origin: p.origin,
    images: Array.from({ length: p.params.n }, (_, i) => ({ artifact: { key: `k${i}`, bytes: 1, contentType: 'image/png' }, seed: 9 + i, width: 512, height: 512 })),
    timings: {},
    model: 'sd15',
    sampler: 'euler_a',
    provider: 'cpu',
    createdAt: 0,
  });
}

describe('Slack text', () => {
  it('turns what Slack sends for a slash command back into what the person typed', () => {
    expect(fromSlackText('a fox &amp; a hound &lt;3 for <@U123|bob> in <#C9|art> see <https://x.test/a|this> <https://y.test> <!here>')).toBe(
      'a fox & a hound <3 for @bob in #art see this https://y.test @here',
    );
    expect(fromSlackText('&lt;@U1&gt;')).toBe('<@U1>');
    expect(fromSlackText('for <!subteam^S1|@artists> and <@U2>')).toBe('for @artists and @U2');
  });

  it('never lets a prompt become a mention, link or formatting', () => {
    expect(escapeMrkdwn('<!channel> & <@U1>')).toBe('&lt;!channel&gt; &amp; &lt;@U1&gt;');
    const quoted = quotePrompt('*bold* _it_ <!everyone> `code`', 100).text;
    expect(quoted).not.toMatch(/[<>]/);
    expect(quoted).toBe('*\u200bbold*\u200b _\u200bit_\u200b &lt;!everyone&gt; `\u200bcode`\u200b');
    expect(quotePrompt('word '.repeat(50), 20).text).toHaveLength(20);
  });

  it('escapes user text interpolated into the bot\'s markup once, and keeps the bot\'s own mentions', () => {
    const typed = fromSlackText('a &lt;b&gt; &amp; <!channel>');
    expect(typed).toBe('a <b> & @channel');
    const line = mrkdwn`${mention('U0ALICE')} asked for *${quotePrompt(typed, 100)}* (${typed}) ${3}`;
    expect(line.text).toBe('<@U0ALICE> asked for *a &lt;b&gt; &amp; @channel* (a &lt;b&gt; &amp; @channel) 3');
    expect(toMrkdwn('not “<script>” & <@U1>')).toBe('not “&lt;script&gt;” &amp; &lt;@U1&gt;');
    expect(toMrkdwn(line)).toBe(line.text);
    expect(mention('U1><!here')).toEqual(new Mrkdwn('<@U1here>'));
  });
});

describe('Block Kit rendering', () => {
  it('keeps every message within Slack limits, whatever the prompt', () => {
    const huge = payload('a very long prompt '.repeat(210).slice(0, 4000));
    const messages = [
      renderParent(huge),
      renderStatus(huge, { kind: 'progress', update: { step: 3, total: 20, etaMs: 65_000 } }, 'job-1'),
      renderResult(huge, result(huge), ['a note '.repeat(100)]),
      renderFailure({ jobId: 'job-1', origin: huge.origin, payload: huge }, { message: 'x'.repeat(2500), retry: true }),
    ];
    for (const m of messages) {
      expect(blockKitProblems(m)).toEqual([]);
      for (const b of m.blocks as any[]) if (b.type === 'section') expect(b.text.text.length).toBeLessThanOrEqual(BLOCK_KIT_LIMITS.sectionTextLength);
    }
    expect(JSON.stringify(messages[1].blocks)).toContain('Step 3/20 (15%) · about 1 min 5 s left');
  });

  it('finds what breaks Block Kit limits', () => {
    const tooMany = { text: 't', blocks: Array.from({ length: 51 }, () => ({ type: 'divider' })) };
    expect(blockKitProblems(tooMany)).toEqual(['51 blocks']);
    const badButton = {
      text: 't',
      blocks: [{ type: 'actions', elements: [{ type: 'button', text: { type: 'plain_text', text: 'x'.repeat(76) }, action_id: 'a'.repeat(256), value: 'v' }] }],
    };
    expect(blockKitProblems(badButton)).toEqual(['action_id 256 characters', 'button text 76 characters']);
  });

  it('renders the grid result with its buttons and mentions only the requester', () => {
    const p = payload('a fox <!channel>');
    const m = renderResult(p, result(p));
    const actions = (m.blocks as any[]).filter((b) => b.type === 'actions');
    expect(actions.map((b) => b.elements.map((e: any) => e.text.text))).toEqual([
      ['U1', 'U2', 'U3', 'U4'],
      ['V1', 'V2', 'V3', 'V4'],
      ['🔄', '✖'],
    ]);
    expect(actions.flatMap((b) => b.elements).every((e: any) => e.action_id === e.value && e.action_id.length <= 100)).toBe(true);
    expect(actions[2].elements[1].style).toBe('danger');
    expect(m.text).toBe('Images for <@U1>: a fox &lt;!channel&gt;');
    expect(JSON.stringify(m.blocks).match(/<[@!#]/g)).toEqual(['<@']);
  });
});

describe('Slack result parameters', () => {
  it("name an upscaled result's real size (128x128), not its 64x64 source's", () => {
    const source = payload('a fox', 1);
    const small = { ...source, params: { ...source.params, width: 64, height: 64 } };
    const upscale = jobPayloadSchema.parse({ ...small, kind: 'upscale', factor: 2, source: { resultId: 'r1', index: 0 }, parentResultId: 'r1' });
    const stored = result(small);
    const upscaled = parseJobResult({ ...stored, kind: 'upscale', images: [{ ...stored.images[0], width: 128, height: 128 }] });
    const contexts = (renderResult(upscale, upscaled).blocks as any[]).filter((b) => b.type === 'context');
    expect(contexts[0].elements[0].text).toBe('`seed 9` · `euler_a` · `20 steps` · `cfg 7` · `128x128` · `sd15`');
  });
});

describe('Slack queued status', () => {
  it('says about when a queued job starts once jobs were measured, as the running status says when it ends', () => {
    expect(statusLine({ kind: 'queued', position: 2, averageMs: 5_000 })).toBe('⏳ Queued — position 2 · starts in about 10 s');
    expect(statusLine({ kind: 'queued', position: 2, averageMs: null })).toBe('⏳ Queued — position 2');
    expect(statusLine({ kind: 'queued', position: 0, averageMs: 5_000 })).toBe('⚙️ Starting…');
  });
});

describe('SLACK_REACTIONS', () => {
  it('maps the default emoji to the same actions as Discord', () => {
    const map = parseSlackReactions();
    expect(map.entries[0].key).toBe('repeat');
    expect(map.get('repeat')).toEqual({ action: 'variation', mode: 'strong', index: 0 });
    expect(map.get('three')).toEqual({ action: 'variation', mode: 'strong', index: 2 });
    expect(map.get('arrows_counterclockwise')).toEqual({ action: 'reseed' });
    expect(map.get('mag')).toEqual({ action: 'upscale', index: 0 });
    expect(map.get('tada')).toBeUndefined();
    expect(DEFAULT_SLACK_REACTIONS.split(',')).toHaveLength(map.entries.length);
  });

  it('reads a custom map, with colons and skin tones tolerated', () => {
    const map = parseSlackReactions(':thumbsup:=subtle:2, x=delete');
    expect(map.entries.map((e) => e.key)).toEqual(['thumbsup', 'x']);
    expect(map.get('thumbsup::skin-tone-3')).toEqual({ action: 'variation', mode: 'subtle', index: 1 });
    expect(map.get('x')).toEqual({ action: 'delete' });
    expect(describeSlackReactions(map)).toBe('Reactions on a result: :thumbsup: subtle variations of image 2 · :x: remove (requester only).');
  });

  it('refuses a bad map naming the variable', () => {
    for (const bad of ['repeat', 'repeat=explode', 'repeat=vary:5', 'repeat=reseed:1', 'a=vary,a=reseed', '🔁=vary']) {
      expect(() => parseSlackReactions(bad)).toThrow(ConfigError);
      expect(() => parseSlackReactions(bad)).toThrow(/SLACK_REACTIONS/);
    }
  });
});

describe('channel pacing', () => {
  it('spaces turns on one channel by the interval, across pacers sharing a store, and leaves other channels alone', async () => {
    const kv = new MemoryKeyValueStore();
    const a = new ChannelPacer(kv, { intervalMs: 150, pollMs: 5 });
    const b = new ChannelPacer(kv, { intervalMs: 150, pollMs: 5 });
    const times: number[] = [];
    const start = Date.now();
    await Promise.all([a, b, a].map(async (p) => {
      await p.turn('C1');
      times.push(Date.now() - start);
    }));
    await a.turn('C2');
    const other = Date.now() - start;
    times.sort((x, y) => x - y);
    expect(times[1] - times[0]).toBeGreaterThanOrEqual(140);
    expect(times[2] - times[1]).toBeGreaterThanOrEqual(140);
    expect(other - times[2]).toBeLessThan(100);
  });

  it('stops waiting after its bound', async () => {
    const kv = new MemoryKeyValueStore();
    const p = new ChannelPacer(kv, { intervalMs: 10_000, maxWaitMs: 100, pollMs: 10 });
    await p.turn('C1');
    const t = Date.now();
    await p.turn('C1');
    expect(Date.now() - t).toBeLessThan(1000);
  });
});

describe('Slack mode', () => {
  const base = { SLACK_BOT_TOKEN: 'xoxb-1-2' };
  it('uses HTTP with a signing secret, Socket Mode with an app token (preferred when both are set)', () => {
    expect(slackMode(loadConfig({ ...base, SLACK_SIGNING_SECRET: 'secret-123' }))).toBe('http');
    expect(slackMode(loadConfig({ ...base, SLACK_APP_TOKEN: 'xapp-1-2' }))).toBe('socket');
    expect(slackMode(loadConfig({ ...base, SLACK_SIGNING_SECRET: 'secret-123', SLACK_APP_TOKEN: 'xapp-1-2' }))).toBe('socket');
  });
});

describe('README app manifest', () => {
  const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Connect a Slack app'));
  const yamlBlock = /```yaml\n([\s\S]*?)```/.exec(section)![1].replace(/^ {3}/gm, '');
  const manifest = parseYaml(yamlBlock);

  it('asks for exactly the scopes and events the bot uses, at the path the bot serves', () => {
    expect(manifest.oauth_config.scopes.bot).toEqual(['commands', 'chat:write', 'files:write', 'reactions:read', 'reactions:write']);
    expect(manifest.settings.event_subscriptions.bot_events).toEqual(['reaction_added']);
    const urls = [manifest.features.slash_commands[0].url, manifest.settings.event_subscriptions.request_url, manifest.settings.interactivity.request_url];
    expect(urls).toEqual(Array(3).fill(`https://<host>${SLACK_EVENTS_PATH}`));
    expect(manifest.features.slash_commands[0].command).toBe('/imagine');
    expect(manifest.settings.interactivity.is_enabled).toBe(true);
    expect(manifest.settings.socket_mode_enabled).toBe(false);
    expect(section).toContain('socket_mode_enabled: true');
    expect(section).toContain('connections:write');
    expect(section).toContain(DEFAULT_SLACK_REACTIONS);
  });
});
