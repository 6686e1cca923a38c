/** Text in and out of Slack: mrkdwn escaping, mentions, quoting a prompt, reading Slack's text back. */
import { describe, expect, it } from 'vitest';
import { escapeMrkdwn, fromSlackText, mention, Mrkdwn, mrkdwn, quotePrompt, toMrkdwn } from '../../../adapters/slack/slack-text.ts';

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
