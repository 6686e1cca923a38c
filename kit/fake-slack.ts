/**
 * A loopback fake of the Slack Web API methods the bot uses, faithful enough that the REAL
 * @slack/web-api WebClient (and Bolt, which uses it) talks to it unchanged:
 *  - auth.test, chat.postMessage / update / postEphemeral / delete, reactions.add,
 *    conversations.info, files.getUploadURLExternal + the upload URL it hands out +
 *    files.completeUploadExternal (the files.uploadV2 flow; the retired files.upload answers
 *    `method_deprecated`), files.delete;
 *  - response_url endpoints (one per slash command or button press) with Slack's limits:
 *    five uses within thirty minutes;
 *  - Socket Mode: apps.connections.open (app-level token) hands out a loopback WebSocket URL
 *    that says hello and carries envelopes (slash_commands, interactive, events_api) whose
 *    acknowledgements come back to the test;
 *  - the platform rules the bot must respect: bearer-token auth, Block Kit limits (50 blocks,
 *    action_id 255 characters, button text 75), one message per channel per second checked
 *    and recorded, and injectable faults (429 with Retry-After, 5xx, platform errors).
 * Everything is recorded, upload bytes included.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';

export interface RecordedSlackCall {
  /** The Web API method, e.g. chat.postMessage; `upload` for the upload URL, `response_url` for response URLs. */
  method: string;
  params: Record<string, any>;
  token: string | null;
  status: number;
  /** The Slack error code answered, if any. */
  error?: string;
  at: number;
}

export interface FakeSlackMessage {
  channel: string;
  ts: string;
  thread_ts?: string;
  text: string;
  blocks?: any[];
  /** Set for bot posts; user messages made with postUserMessage() have `user` instead. */
  bot_id?: string;
  user?: string;
  files?: string[];
  edits: number;
  deleted: boolean;
}

export interface FakeSlackEphemeral {
  channel: string;
  user: string;
  text: string;
  blocks?: any[];
  thread_ts?: string;
  message_ts: string;
}

export interface FakeSlackUpload {
  id: string;
  filename: string;
  length: number;
  alt_text?: string;
  bytes: Buffer | null;
  completed: boolean;
  title?: string;
  channel_id?: string;
  thread_ts?: string;
  initial_comment?: string;
  /** The message that shows the file once completed. */
  ts?: string;
  deleted?: boolean;
}

export interface FakeResponseUrl {
  id: string;
  url: string;
  channel: string;
  user: string;
  createdAt: number;
  posts: Array<{ body: any; at: number; accepted: boolean }>;
}

export type SlackFault = { status: 429; retryAfterS: number } | { status: 500 | 502 | 503 } | { error: string };

export interface FakeSlackOptions {
  botToken?: string;
  teamId?: string;
  botUserId?: string;
  botId?: string;
  /** Time source for the response_url expiry (tests move it forward). */
  now?: () => number;
}

/** Slack's documented response_url limits. */
export const RESPONSE_URL_MAX_USES = 5;
export const RESPONSE_URL_TTL_MS = 30 * 60 * 1000;
export const MAX_BLOCKS = 50;
export const MAX_ACTION_ID = 255;
export const MAX_BUTTON_TEXT = 75;
export const MAX_SECTION_TEXT = 3000;

function blockKitError(blocks: unknown): string | null {
  if (blocks === undefined) return null;
  if (!Array.isArray(blocks)) return 'invalid_blocks_format';
  if (blocks.length > MAX_BLOCKS) return 'invalid_blocks';
  for (const block of blocks) {
    if (!block || typeof block !== 'object' || typeof block.type !== 'string') return 'invalid_blocks';
    if (block.type === 'section' && typeof block.text?.text === 'string' && block.text.text.length > MAX_SECTION_TEXT) return 'invalid_blocks';
    if (block.type === 'actions') {
      if (!Array.isArray(block.elements) || block.elements.length > 25) return 'invalid_blocks';
      const ids = new Set<string>();
      for (const el of block.elements) {
        if (el.type !== 'button') continue;
        if (typeof el.action_id !== 'string' || el.action_id.length > MAX_ACTION_ID || ids.has(el.action_id)) return 'invalid_blocks';
        ids.add(el.action_id);
        if (typeof el.text?.text !== 'string' || el.text.text.length > MAX_BUTTON_TEXT) return 'invalid_blocks';
        if (el.value !== undefined && (typeof el.value !== 'string' || el.value.length > 2000)) return 'invalid_blocks';
      }
    }
  }
  return null;
}

/** A multipart body's fields, parsed by the platform's own Response.formData(). */
export interface FakeSlackView {
  id: string;
  triggerId: string;
  /** The view as the app sent it (type modal, title, blocks, callback_id, private_metadata, ...). */
  view: any;
}

/** What Slack refuses about a modal view: Block Kit's limits for modals. */
function viewProblem(view: any): string | null {
  if (!view || view.type !== 'modal') return '[ERROR] must be a modal view [json-pointer:/view/type]';
  const plain = (t: any, max: number) => t && t.type === 'plain_text' && typeof t.text === 'string' && t.text.length >= 1 && t.text.length <= max;
  if (!plain(view.title, 24)) return '[ERROR] title must be plain_text of at most 24 characters [json-pointer:/view/title]';
  if (view.submit !== undefined && !plain(view.submit, 24)) return '[ERROR] submit must be plain_text of at most 24 characters [json-pointer:/view/submit]';
  if (!Array.isArray(view.blocks) || view.blocks.length === 0 || view.blocks.length > 100) return '[ERROR] blocks must be 1-100 blocks [json-pointer:/view/blocks]';
  if (view.callback_id !== undefined && String(view.callback_id).length > 255) return '[ERROR] callback_id at most 255 characters [json-pointer:/view/callback_id]';
  if (view.private_metadata !== undefined && String(view.private_metadata).length > 3000) return '[ERROR] private_metadata at most 3000 characters [json-pointer:/view/private_metadata]';
  for (const b of view.blocks) {
    if (b.type === 'input' && (!plain(b.label, 2000) || !b.element?.action_id)) return '[ERROR] an input block needs a label and an element with an action_id [json-pointer:/view/blocks]';
    if (b.element?.type === 'plain_text_input' && b.element.initial_value !== undefined && String(b.element.initial_value).length > 3000) return '[ERROR] initial_value at most 3000 characters';
  }
  return null;
}

async function formEntries(raw: Buffer, contentType: string): Promise<Array<[string, FormDataEntryValue]>> {
  const form = await new Response(new Uint8Array(raw), { headers: { 'content-type': contentType } }).formData();
  const out: Array<[string, FormDataEntryValue]> = [];
  form.forEach((value, name) => out.push([name, value]));
  return out;
}

export class FakeSlack {
  readonly botToken: string;
  readonly teamId: string;
  readonly botUserId: string;
  readonly botId: string;
  readonly calls: RecordedSlackCall[] = [];
  readonly messages: FakeSlackMessage[] = [];
  readonly ephemerals: FakeSlackEphemeral[] = [];
  readonly uploads: FakeSlackUpload[] = [];
  readonly reactions: Array<{ channel: string; ts: string; name: string; user: string }> = [];
  readonly responseUrls = new Map<string, FakeResponseUrl>();
  /** Modals opened with views.open, in order. */
  readonly views: FakeSlackView[] = [];
  private readonly usedTriggers = new Set<string>();
  /** Channels the bot is not a member of (posts answer not_in_channel). */
  readonly notInChannel = new Set<string>();
  /** Times two posts to one channel came closer than one second (Slack's posting guideline). */
  readonly fastPosts: Array<{ channel: string; gapMs: number }> = [];
  /** Socket Mode: the app-level token apps.connections.open accepts (unset = Socket Mode off). */
  appToken: string | null = null;
  private readonly wss = new WebSocketServer({ noServer: true });
  private readonly sockets = new Set<WebSocket>();
  private readonly pendingAcks = new Map<string, (payload: any) => void>();
  private envelopeCounter = 0;
  private readonly faults = new Map<string, SlackFault[]>();
  private readonly lastPostAt = new Map<string, number>();
  private readonly server: http.Server;
  private tsCounter = 0;
  private idCounter = 0;
  private readonly now: () => number;
  origin = '';

  private constructor(opts: FakeSlackOptions) {
    this.botToken = opts.botToken ?? 'xoxb-fake-bot-token';
    this.teamId = opts.teamId ?? 'T0FAKE';
    this.botUserId = opts.botUserId ?? 'U0BOT';
    this.botId = opts.botId ?? 'B0BOT';
    this.now = opts.now ?? Date.now;
    this.server = http.createServer((req, res) => {
      this.handle(req, res).catch((err: Error) => {
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(`fake slack failed: ${err.message}`);
      });
    });
    this.server.on('upgrade', (req, socket, head) => {
      if (!this.appToken || !(req.url ?? '').startsWith('/socket/')) {
        socket.destroy();
        return;
      }
      this.wss.handleUpgrade(req, socket, head, (ws) => this.onSocket(ws));
    });
  }

  private onSocket(ws: WebSocket): void {
    this.sockets.add(ws);
    ws.on('close', () => this.sockets.delete(ws));
    ws.on('message', (data) => {
      let msg: { envelope_id?: string; payload?: unknown };
      try {
        msg = JSON.parse(data.toString());
      } catch {
        return;
      }
      const resolve = msg.envelope_id ? this.pendingAcks.get(msg.envelope_id) : undefined;
      if (resolve) {
        this.pendingAcks.delete(msg.envelope_id!);
        resolve(msg.payload ?? {});
      }
    });
    ws.send(JSON.stringify({ type: 'hello', num_connections: this.sockets.size, debug_info: { host: 'fake-slack', approximate_connection_time: 3600 }, connection_info: { app_id: 'A0IMAGINE' } }));
  }

  /** Switch Socket Mode on: apps.connections.open then accepts this app-level token. */
  enableSocketMode(appToken = 'xapp-1-A0IMAGINE-fake-app-token'): string {
    this.appToken = appToken;
    return appToken;
  }

  /** Whether a Socket Mode client is connected. */
  get socketConnected(): boolean {
    return this.sockets.size > 0;
  }

  /** Sends one envelope over Socket Mode; resolves with the payload of the app's acknowledgement. */
  socketSend(type: 'slash_commands' | 'interactive' | 'events_api', payload: unknown, opts: { retryAttempt?: number; timeoutMs?: number } = {}): Promise<any> {
    const [ws] = this.sockets;
    if (!ws) return Promise.reject(new Error('fake slack: no Socket Mode client is connected'));
    const envelopeId = `env-${++this.envelopeCounter}`;
    const acked = new Promise<any>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pendingAcks.delete(envelopeId);
        reject(new Error(`fake slack: envelope ${envelopeId} (${type}) was not acknowledged`));
      }, opts.timeoutMs ?? 5000);
      this.pendingAcks.set(envelopeId, (p) => {
        clearTimeout(timer);
        resolve(p);
      });
    });
    ws.send(
      JSON.stringify({
        envelope_id: envelopeId,
        type,
        payload,
        accepts_response_payload: type !== 'events_api',
        ...(type === 'events_api' ? { retry_attempt: opts.retryAttempt ?? 0, retry_reason: opts.retryAttempt ? 'timeout' : '' } : {}),
      }),
    );
    return acked;
  }

  static async start(opts: FakeSlackOptions = {}): Promise<FakeSlack> {
    const fake = new FakeSlack(opts);
    await new Promise<void>((resolve) => fake.server.listen(0, '127.0.0.1', resolve));
    fake.origin = `http://127.0.0.1:${(fake.server.address() as AddressInfo).port}`;
    return fake;
  }

  /** The Web API base for WebClient's slackApiUrl / SLACK_API_URL. */
  get apiUrl(): string {
    return `${this.origin}/api/`;
  }

  async close(): Promise<void> {
    // A closing handshake first, so a client still connected sees a clean goodbye rather than a dropped socket.
    const closing = [...this.sockets].map((ws) => new Promise<void>((resolve) => {
      ws.once('close', () => resolve());
      ws.close(1001, 'server shutting down');
    }));
    await Promise.race([Promise.all(closing), new Promise((r) => setTimeout(r, 500))]);
    for (const ws of this.sockets) ws.terminate();
    this.wss.close();
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  /** The next `times` calls to `method` answer with this fault. */
  failNext(method: string, fault: SlackFault, times = 1): void {
    const list = this.faults.get(method) ?? [];
    for (let i = 0; i < times; i++) list.push(fault);
    this.faults.set(method, list);
  }

  /** A fresh response_url, as Slack puts in a slash command or block_actions payload. */
  newResponseUrl(channel: string, user: string): string {
    const id = `R${++this.idCounter}${Math.random().toString(36).slice(2, 8)}`;
    const url = `${this.origin}/response/${id}`;
    this.responseUrls.set(id, { id, url, channel, user, createdAt: this.now(), posts: [] });
    return url;
  }

  responseUrlPosts(url: string): FakeResponseUrl['posts'] {
    const id = url.slice(url.lastIndexOf('/') + 1);
    return this.responseUrls.get(id)?.posts ?? [];
  }

  /** A message written by a person (e.g. the thread a reaction test reacts in). */
  postUserMessage(channel: string, user: string, text: string, threadTs?: string): FakeSlackMessage {
    const msg: FakeSlackMessage = { channel, ts: this.nextTs(), text, user, edits: 0, deleted: false, ...(threadTs ? { thread_ts: threadTs } : {}) };
    this.messages.push(msg);
    return msg;
  }

  /** A message as if the bot had posted it earlier (a thread parent or status message for deliverer tests). */
  postBotMessage(channel: string, text: string, threadTs?: string): FakeSlackMessage {
    const msg: FakeSlackMessage = { channel, ts: this.nextTs(), text, bot_id: this.botId, edits: 0, deleted: false, ...(threadTs ? { thread_ts: threadTs } : {}) };
    this.messages.push(msg);
    return msg;
  }

  callsTo(method: string): RecordedSlackCall[] {
    return this.calls.filter((c) => c.method === method);
  }

  message(channel: string, ts: string): FakeSlackMessage | undefined {
    return this.messages.find((m) => m.channel === channel && m.ts === ts);
  }

  /** Live (not deleted) replies in a thread, oldest first. */
  threadReplies(channel: string, threadTs: string): FakeSlackMessage[] {
    return this.messages.filter((m) => m.channel === channel && m.thread_ts === threadTs && m.ts !== threadTs && !m.deleted);
  }

  async waitFor<T>(what: string, probe: () => T | undefined | null | false, timeoutMs = 20_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = probe();
      if (value) return value;
      if (Date.now() > deadline) throw new Error(`fake slack: timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  private nextTs(): string {
    // Slack ts values are unique per channel and increase; seconds.microseconds.
    const seconds = Math.floor(this.now() / 1000);
    return `${seconds}.${String(++this.tsCounter).padStart(6, '0')}`;
  }

  private nextId(prefix: string): string {
    return `${prefix}${(++this.idCounter).toString(36).toUpperCase().padStart(8, '0')}`;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks);
    const path = new URL(req.url ?? '/', this.origin).pathname;
    const auth = req.headers.authorization ?? null;
    const token = auth?.startsWith('Bearer ') ? auth.slice(7) : null;
    const contentType = req.headers['content-type'] ?? '';

    if (path.startsWith('/response/')) return this.handleResponseUrl(path.slice('/response/'.length), raw, res);
    if (path.startsWith('/upload/')) return this.handleUpload(path.slice('/upload/'.length), raw, contentType, token, res);
    if (!path.startsWith('/api/')) {
      res.writeHead(404).end();
      return;
    }
    const method = path.slice('/api/'.length);
    const params = await this.parseParams(raw, contentType);
    const bearer = token ?? (typeof params.token === 'string' ? params.token : null);
    const record: RecordedSlackCall = { method, params, token: bearer, status: 200, at: Date.now() };
    this.calls.push(record);

    const fault = this.faults.get(method)?.shift();
    if (fault) {
      if ('status' in fault) {
        record.status = fault.status;
        const headers: Record<string, string> = { 'content-type': 'application/json' };
        if (fault.status === 429) headers['retry-after'] = String(fault.retryAfterS);
        res.writeHead(fault.status, headers).end(JSON.stringify({ ok: false, error: fault.status === 429 ? 'ratelimited' : 'fatal_error' }));
        return;
      }
      return this.reply(res, record, { ok: false, error: fault.error });
    }
    if (method === 'apps.connections.open') {
      if (!this.appToken || bearer !== this.appToken) return this.reply(res, record, { ok: false, error: bearer?.startsWith('xoxb-') ? 'not_allowed_token_type' : 'invalid_auth' });
      return this.reply(res, record, { ok: true, url: `${this.origin.replace('http:', 'ws:')}/socket/${++this.idCounter}` });
    }
    if (bearer !== this.botToken) return this.reply(res, record, { ok: false, error: bearer ? 'invalid_auth' : 'not_authed' });
    this.reply(res, record, this.dispatch(method, params));
  }

  private reply(res: http.ServerResponse, record: RecordedSlackCall, body: Record<string, unknown>): void {
    if (body.ok === false) record.error = String(body.error);
    res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify(body));
  }

  private async parseParams(raw: Buffer, contentType: string): Promise<Record<string, any>> {
    if (contentType.startsWith('application/json')) return raw.length ? JSON.parse(raw.toString('utf8')) : {};
    if (contentType.startsWith('multipart/form-data')) {
      const out: Record<string, any> = {};
      for (const [k, v] of await formEntries(raw, contentType)) out[k] = typeof v === 'string' ? v : Buffer.from(await v.arrayBuffer());
      return out;
    }
    return Object.fromEntries(new URLSearchParams(raw.toString('utf8')));
  }

  /** Form-encoded calls send objects as JSON strings (WebClient does this for blocks and files). */
  private json(value: unknown): any {
    if (typeof value !== 'string') return value;
    try {
      return JSON.parse(value);
    } catch {
      return Symbol.for('invalid-json');
    }
  }

  private channelError(channel: unknown): string | null {
    if (typeof channel !== 'string' || !/^[CDG][A-Z0-9]+$/.test(channel)) return 'channel_not_found';
    if (this.notInChannel.has(channel)) return 'not_in_channel';
    return null;
  }

  private notePost(channel: string): void {
    const now = Date.now();
    const last = this.lastPostAt.get(channel);
    if (last !== undefined && now - last < 1000) this.fastPosts.push({ channel, gapMs: now - last });
    this.lastPostAt.set(channel, now);
  }

  private dispatch(method: string, p: Record<string, any>): Record<string, unknown> {
    switch (method) {
      case 'auth.test':
        return { ok: true, url: 'https://fake.slack.com/', team: 'Fake Team', user: 'imagine', team_id: this.teamId, user_id: this.botUserId, bot_id: this.botId };
      case 'chat.postMessage': {
        const err = this.channelError(p.channel) ?? this.messageError(p);
        if (err) return { ok: false, error: err };
        if (p.thread_ts !== undefined && !this.message(p.channel, p.thread_ts)) return { ok: false, error: 'thread_not_found' };
        this.notePost(p.channel);
        const msg: FakeSlackMessage = {
          channel: p.channel,
          ts: this.nextTs(),
          text: p.text ?? '',
          blocks: p.blocks === undefined ? undefined : this.json(p.blocks),
          bot_id: this.botId,
          edits: 0,
          deleted: false,
          ...(p.thread_ts ? { thread_ts: String(p.thread_ts) } : {}),
        };
        this.messages.push(msg);
        return { ok: true, channel: msg.channel, ts: msg.ts, message: { type: 'message', text: msg.text, blocks: msg.blocks, bot_id: this.botId, ts: msg.ts, thread_ts: msg.thread_ts } };
      }
      case 'chat.update': {
        const err = this.channelError(p.channel) ?? this.messageError(p);
        if (err) return { ok: false, error: err };
        const msg = this.message(p.channel, p.ts);
        if (!msg || msg.deleted) return { ok: false, error: 'message_not_found' };
        if (msg.bot_id !== this.botId) return { ok: false, error: 'cant_update_message' };
        if (p.text !== undefined) msg.text = p.text;
        if (p.blocks !== undefined) msg.blocks = this.json(p.blocks);
        msg.edits++;
        return { ok: true, channel: msg.channel, ts: msg.ts, text: msg.text };
      }
      case 'views.open': {
        // A trigger_id is good for one view, within 3 seconds of the interaction that carried it.
        const trigger = typeof p.trigger_id === 'string' ? p.trigger_id : '';
        const issuedMs = Number(trigger.split('.')[0]);
        if (!trigger || !Number.isFinite(issuedMs)) return { ok: false, error: 'invalid_trigger_id' };
        if (this.usedTriggers.has(trigger)) return { ok: false, error: 'trigger_exchanged' };
        if (this.now() - issuedMs > 3000) return { ok: false, error: 'expired_trigger_id' };
        const view = this.json(p.view);
        const problem = viewProblem(view);
        if (problem) return { ok: false, error: 'invalid_arguments', response_metadata: { messages: [problem] } };
        this.usedTriggers.add(trigger);
        const opened: FakeSlackView = { id: this.nextId('V'), triggerId: trigger, view };
        this.views.push(opened);
        return { ok: true, view: { id: opened.id, ...view } };
      }
      case 'chat.postEphemeral': {
        const err = this.channelError(p.channel) ?? this.messageError(p);
        if (err) return { ok: false, error: err };
        if (typeof p.user !== 'string' || !p.user) return { ok: false, error: 'user_not_in_channel' };
        const eph: FakeSlackEphemeral = {
          channel: p.channel,
          user: p.user,
          text: p.text ?? '',
          blocks: p.blocks === undefined ? undefined : this.json(p.blocks),
          message_ts: this.nextTs(),
          ...(p.thread_ts ? { thread_ts: String(p.thread_ts) } : {}),
        };
        this.ephemerals.push(eph);
        return { ok: true, message_ts: eph.message_ts };
      }
      case 'chat.delete': {
        const msg = this.message(p.channel, p.ts);
        if (!msg || msg.deleted) return { ok: false, error: 'message_not_found' };
        if (msg.bot_id !== this.botId) return { ok: false, error: 'cant_delete_message' };
        msg.deleted = true;
        return { ok: true, channel: msg.channel, ts: msg.ts };
      }
      case 'reactions.add': {
        const msg = this.message(p.channel, p.timestamp);
        if (!msg || msg.deleted) return { ok: false, error: 'message_not_found' };
        if (this.reactions.some((r) => r.channel === p.channel && r.ts === p.timestamp && r.name === p.name && r.user === this.botUserId)) return { ok: false, error: 'already_reacted' };
        this.reactions.push({ channel: p.channel, ts: p.timestamp, name: p.name, user: this.botUserId });
        return { ok: true };
      }
      case 'conversations.info': {
        const err = this.channelError(p.channel);
        if (err === 'channel_not_found') return { ok: false, error: err };
        return { ok: true, channel: { id: p.channel, name: `channel-${p.channel.toLowerCase()}`, is_channel: p.channel.startsWith('C'), is_im: p.channel.startsWith('D'), is_member: err === null } };
      }
      case 'files.getUploadURLExternal': {
        const length = Number(p.length);
        if (typeof p.filename !== 'string' || !p.filename || !Number.isInteger(length) || length <= 0) return { ok: false, error: 'invalid_arguments' };
        const id = this.nextId('F');
        this.uploads.push({ id, filename: p.filename, length, alt_text: p.alt_text, bytes: null, completed: false });
        return { ok: true, upload_url: `${this.origin}/upload/${id}`, file_id: id };
      }
      case 'files.completeUploadExternal': {
        const files = this.json(p.files);
        if (!Array.isArray(files) || files.length === 0) return { ok: false, error: 'invalid_arguments' };
        if (p.channel_id !== undefined) {
          const err = this.channelError(p.channel_id);
          if (err) return { ok: false, error: err };
        }
        const done: FakeSlackUpload[] = [];
        for (const f of files) {
          const upload = this.uploads.find((u) => u.id === f.id);
          if (!upload || upload.bytes === null) return { ok: false, error: 'file_not_found' };
          if (upload.bytes.length !== upload.length) return { ok: false, error: 'file_size_mismatch' };
          done.push(upload);
        }
        let ts: string | undefined;
        if (p.channel_id) {
          this.notePost(p.channel_id);
          ts = this.nextTs();
          this.messages.push({
            channel: p.channel_id,
            ts,
            text: p.initial_comment ?? '',
            bot_id: this.botId,
            files: done.map((u) => u.id),
            edits: 0,
            deleted: false,
            ...(p.thread_ts ? { thread_ts: String(p.thread_ts) } : {}),
          });
        }
        for (const [i, u] of done.entries()) {
          Object.assign(u, { completed: true, title: files[i].title, channel_id: p.channel_id, thread_ts: p.thread_ts, initial_comment: p.initial_comment, ts });
        }
        return { ok: true, files: done.map((u) => ({ id: u.id, name: u.filename, title: u.title ?? u.filename, size: u.length, mimetype: 'image/png' })) };
      }
      case 'files.delete': {
        const upload = this.uploads.find((u) => u.id === p.file && !u.deleted);
        if (!upload) return { ok: false, error: 'file_not_found' };
        upload.deleted = true;
        const share = upload.ts ? this.message(upload.channel_id!, upload.ts) : undefined;
        if (share) share.deleted = true;
        return { ok: true };
      }
      case 'files.upload':
        return { ok: false, error: 'method_deprecated' };
      default:
        return { ok: false, error: 'unknown_method' };
    }
  }

  private messageError(p: Record<string, any>): string | null {
    const blocks = p.blocks === undefined ? undefined : this.json(p.blocks);
    if (typeof blocks === 'symbol') return 'invalid_blocks_format';
    const blockErr = blockKitError(blocks);
    if (blockErr) return blockErr;
    if ((typeof p.text !== 'string' || p.text === '') && blocks === undefined) return 'no_text';
    if (typeof p.text === 'string' && p.text.length > 40_000) return 'msg_too_long';
    return null;
  }

  private async handleUpload(id: string, raw: Buffer, contentType: string, token: string | null, res: http.ServerResponse): Promise<void> {
    const record: RecordedSlackCall = { method: 'upload', params: { id }, token, status: 200, at: Date.now() };
    this.calls.push(record);
    const upload = this.uploads.find((u) => u.id === id);
    if (!upload) {
      record.status = 404;
      res.writeHead(404).end('not found');
      return;
    }
    const fault = this.faults.get('upload')?.shift();
    if (fault && 'status' in fault) {
      record.status = fault.status;
      res.writeHead(fault.status, fault.status === 429 ? { 'retry-after': String(fault.retryAfterS) } : {}).end();
      return;
    }
    // The upload URL takes the raw bytes or a multipart form with the file in it.
    let bytes = raw;
    if (contentType.startsWith('multipart/form-data')) {
      const part = (await formEntries(raw, contentType)).map(([, v]) => v).find((v) => typeof v !== 'string');
      bytes = part && typeof part !== 'string' ? Buffer.from(await part.arrayBuffer()) : Buffer.alloc(0);
    }
    upload.bytes = bytes;
    record.params.bytes = bytes.length;
    res.writeHead(200, { 'content-type': 'text/plain' }).end(`OK - ${bytes.length}`);
  }

  private handleResponseUrl(id: string, raw: Buffer, res: http.ServerResponse): void {
    let body: any = null;
    try {
      body = JSON.parse(raw.toString('utf8'));
    } catch {
      body = raw.toString('utf8');
    }
    const record: RecordedSlackCall = { method: 'response_url', params: { id, body }, token: null, status: 200, at: Date.now() };
    this.calls.push(record);
    const entry = this.responseUrls.get(id);
    if (!entry) {
      record.status = 404;
      res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ ok: false, error: 'expired_url' }));
      return;
    }
    const fault = this.faults.get('response_url')?.shift();
    if (fault && 'status' in fault) {
      record.status = fault.status;
      entry.posts.push({ body, at: Date.now(), accepted: false });
      res.writeHead(fault.status, fault.status === 429 ? { 'retry-after': String(fault.retryAfterS) } : {}).end();
      return;
    }
    const used = entry.posts.filter((p) => p.accepted).length;
    const expired = this.now() - entry.createdAt > RESPONSE_URL_TTL_MS;
    if (expired || used >= RESPONSE_URL_MAX_USES) {
      record.status = 404;
      record.error = expired ? 'expired_url' : 'used_url';
      entry.posts.push({ body, at: Date.now(), accepted: false });
      res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ ok: false, error: record.error }));
      return;
    }
    entry.posts.push({ body, at: Date.now(), accepted: true });
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ ok: true }));
  }
}
