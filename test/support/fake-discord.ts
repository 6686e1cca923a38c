/**
 * A loopback fake of the parts of Discord the bot uses, faithful enough that the REAL discord.js
 * client and @discordjs/rest talk to it unchanged:
 *  - REST under /api/v10: GET /gateway/bot, application command registration, the interaction
 *    callback, interaction webhook routes, channel messages and reactions; multipart bodies are
 *    parsed and every attachment's bytes recorded;
 *  - a gateway WebSocket speaking API v10 JSON: HELLO, IDENTIFY -> READY + GUILD_CREATE,
 *    heartbeat ACKs, RESUME, and dispatches (INTERACTION_CREATE, MESSAGE_REACTION_ADD) on demand;
 *  - the platform's rules that the bot must cope with: the 3-second interaction acknowledgement
 *    window, 15-minute tokens (an expired token answers 50027), nonce idempotency with
 *    enforce_nonce, the attachment size limit (40005), and injectable faults (429 with
 *    Retry-After, 5xx).
 */
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';

export const FAKE_API_VERSION = '10';

/** Gateway intents that Discord treats as privileged (the bot must not ask for them). */
export const PRIVILEGED_INTENTS = (1 << 1) | (1 << 8) | (1 << 15);

const DISCORD_EPOCH = 1420070400000n;
let snowflakeCounter = 0n;
export function snowflake(at = Date.now()): string {
  snowflakeCounter = (snowflakeCounter + 1n) & 0xfffn;
  return (((BigInt(at) - DISCORD_EPOCH) << 22n) | (1n << 17n) | snowflakeCounter).toString();
}

export interface RecordedFile {
  field: string;
  name: string;
  contentType: string;
  data: Buffer;
}

export interface RecordedCall {
  method: string;
  /** Path after /api/v10, e.g. /channels/123/messages. */
  path: string;
  query: Record<string, string>;
  authorization: string | null;
  /** The JSON body (or payload_json of a multipart body). */
  body: any;
  files: RecordedFile[];
  status: number;
  at: number;
}

export interface FakeUser {
  id: string;
  username: string;
  global_name?: string | null;
  bot?: boolean;
}

export interface FakeAttachment {
  id: string;
  filename: string;
  size: number;
  url: string;
  proxy_url: string;
  content_type: string;
  width?: number;
  height?: number;
  ephemeral?: boolean;
  /** The alt text the upload was described with. */
  description?: string;
}

export interface FakeMessage {
  id: string;
  channel_id: string;
  guild_id?: string;
  author: FakeUser & { discriminator: string; avatar: null };
  content: string;
  timestamp: string;
  edited_timestamp: string | null;
  tts: boolean;
  mention_everyone: boolean;
  mentions: unknown[];
  mention_roles: unknown[];
  attachments: FakeAttachment[];
  embeds: unknown[];
  components: any[];
  pinned: boolean;
  type: number;
  flags: number;
  nonce?: string | number;
  webhook_id?: string;
  application_id?: string;
  /** Fake-only bookkeeping: the files as uploaded, and whether it was deleted. */
  files: RecordedFile[];
  deleted: boolean;
  /** The interaction whose webhook created it, when it was. */
  interactionId?: string;
  /** The message it replies to (message_reference), when it does. */
  referencedMessageId?: string;
}

export interface FakeInteraction {
  id: string;
  token: string;
  type: number;
  createdAt: number;
  /** When the first callback arrived (null until then) and what type it was. */
  acknowledgedAt: number | null;
  callbackType: number | null;
  expired: boolean;
  originalMessageId: string | null;
  /** For component interactions: the message the component was on. */
  sourceMessageId?: string;
  /** The autocomplete choices answered, for type 4 interactions. */
  choices?: Array<{ name: string; value: string | number }>;
  /** The modal shown in answer (callback type 9): custom_id, title, components. */
  modal?: any;
  /** The user who caused it (a modal submit comes from the user it was shown to). */
  userId?: string;
}

export interface Fault {
  method?: string;
  path: RegExp;
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
  /** Further narrows which requests it answers (e.g. only uploads). */
  when?: (call: RecordedCall) => boolean;
  /** How many requests it answers before it is spent. */
  times: number;
}

export interface FakeDiscordOptions {
  token?: string;
  applicationId?: string;
  guildId?: string;
  channelId?: string;
  /** Interactions not acknowledged within this window get 10062 Unknown interaction (Discord: 3 s). */
  ackWindowMs?: number;
  /** Largest attachment the fake accepts; a larger one is answered 413 / 40005. */
  attachmentSizeLimit?: number;
  heartbeatIntervalMs?: number;
}

interface GatewayConnection {
  socket: WebSocket;
  identified: boolean;
  intents: number | null;
}

export class FakeDiscord {
  readonly token: string;
  readonly applicationId: string;
  readonly guildId: string;
  readonly channelId: string;
  /** Whether the channel is marked age-restricted (NSFW), as GET /channels/{id} reports it. */
  channelNsfw = false;
  readonly botUser: FakeUser;
  readonly calls: RecordedCall[] = [];
  readonly messages = new Map<string, FakeMessage>();
  readonly interactions = new Map<string, FakeInteraction>();
  readonly commands = new Map<string, any[]>();
  readonly reactions: Array<{ channelId: string; messageId: string; emoji: string; userId: string }> = [];
  readonly identifies: any[] = [];
  /** The guild's roles beyond @everyone. */
  readonly roles: any[] = [];
  readonly faults: Fault[] = [];
  ackWindowMs: number;
  attachmentSizeLimit: number;
  heartbeatAcks = 0;
  /** Called after each handled REST call, before it is answered (tests use it to change state at an exact moment). */
  onCall: ((call: RecordedCall) => void) | null = null;
  private readonly server: http.Server;
  private readonly wss: WebSocketServer;
  private readonly connections = new Set<GatewayConnection>();
  private readonly uploads = new Map<string, { data: Buffer; contentType: string; streamBytes?: number }>();
  /** Per upload id: how many times its CDN URL was fetched, and how many body bytes the fake handed to the socket. */
  readonly uploadFetches = new Map<string, { requests: number; bytesSent: number }>();
  private readonly heartbeatIntervalMs: number;
  private sequence = 0;
  private sessionId = randomBytes(8).toString('hex');
  private baseUrl = '';

  private constructor(opts: FakeDiscordOptions) {
    this.token = opts.token ?? `fake.${randomBytes(12).toString('base64url')}`;
    this.applicationId = opts.applicationId ?? snowflake();
    this.guildId = opts.guildId ?? snowflake();
    this.channelId = opts.channelId ?? snowflake();
    this.ackWindowMs = opts.ackWindowMs ?? 3000;
    this.attachmentSizeLimit = opts.attachmentSizeLimit ?? 10 * 1024 * 1024;
    this.heartbeatIntervalMs = opts.heartbeatIntervalMs ?? 41250;
    this.botUser = { id: this.applicationId, username: 'imagine-bot', bot: true };
    this.server = http.createServer((req, res) => {
      this.handle(req, res).catch((error) => {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ message: `fake discord crashed: ${String(error?.stack ?? error)}`, code: 0 }));
      });
    });
    this.wss = new WebSocketServer({ noServer: true });
    this.server.on('upgrade', (req, socket, head) => {
      this.wss.handleUpgrade(req, socket, head, (ws) => this.onGatewayConnection(ws, req.url ?? ''));
    });
  }

  static async start(opts: FakeDiscordOptions = {}): Promise<FakeDiscord> {
    const fake = new FakeDiscord(opts);
    await new Promise<void>((resolve) => fake.server.listen(0, '127.0.0.1', resolve));
    const { port } = fake.server.address() as AddressInfo;
    fake.baseUrl = `http://127.0.0.1:${port}`;
    return fake;
  }

  /** What DISCORD_API_URL / discord.js `rest.api` take: the REST base without version. */
  get apiUrl(): string {
    return `${this.baseUrl}/api`;
  }

  get gatewayUrl(): string {
    return `${this.baseUrl.replace('http', 'ws')}/gateway`;
  }

  async close(): Promise<void> {
    for (const c of this.connections) c.socket.terminate();
    this.wss.close();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  // ---------------------------------------------------------------- test controls

  /** Answer the next `times` matching requests with this status instead of handling them. */
  injectFault(fault: Omit<Fault, 'times'> & { times?: number }): void {
    this.faults.push({ times: 1, ...fault });
  }

  /** A 429 such as Discord sends when a route's bucket is exhausted. */
  injectRateLimit(path: RegExp, retryAfterS: number, method?: string, when?: Fault['when']): void {
    this.injectFault({
      method,
      path,
      when,
      status: 429,
      headers: { 'retry-after': String(retryAfterS), 'x-ratelimit-scope': 'user' },
      body: { message: 'You are being rate limited.', retry_after: retryAfterS, global: false },
    });
  }

  /** Make an interaction's token behave as it does after 15 minutes. */
  expireInteraction(interactionId: string): void {
    const it = this.interactions.get(interactionId);
    if (!it) throw new Error(`no interaction ${interactionId}`);
    it.expired = true;
  }

  /** Serve bytes as a user upload (a CDN URL on the fake) and describe it as Discord does. */
  addUpload(filename: string, data: Buffer, contentType: string, dims?: { width: number; height: number }): FakeAttachment {
    const id = snowflake();
    this.uploads.set(id, { data, contentType });
    const url = `${this.baseUrl}/attachments/${this.channelId}/${id}/${encodeURIComponent(filename)}`;
    return { id, filename, size: data.length, url, proxy_url: url, content_type: contentType, ...dims };
  }

  /**
   * An upload whose CDN body is `streamBytes` long, sent in chunks without a content-length (as
   * a chunked response is), while Discord describes it as `declaredSize` bytes: a client must
   * stop reading at its own limit. Chunks are produced only as the socket drains, so
   * `uploadFetches` shows how far the client read before it hung up.
   */
  addStreamingUpload(filename: string, contentType: string, streamBytes: number, declaredSize: number): FakeAttachment {
    const attachment = this.addUpload(filename, Buffer.alloc(0), contentType);
    this.uploads.set(attachment.id, { data: Buffer.alloc(0), contentType, streamBytes });
    return { ...attachment, size: declaredSize };
  }

  user(id: string, username = `user${id.slice(-4)}`): FakeUser {
    return { id, username, global_name: username };
  }

  member(user: FakeUser, roles: string[] = []) {
    return {
      user: { ...user, discriminator: '0', avatar: null },
      roles,
      joined_at: new Date(0).toISOString(),
      deaf: false,
      mute: false,
      flags: 0,
      permissions: '2248473465835073',
    };
  }

  /** Dispatch an INTERACTION_CREATE for a slash command; options as Discord sends them. */
  slashCommand(args: {
    name: string;
    options?: Array<{ name: string; type: number; value: string | number | boolean; focused?: boolean }>;
    user: FakeUser;
    roles?: string[];
    attachments?: FakeAttachment[];
    attachmentSizeLimit?: number;
    autocomplete?: boolean;
  }): FakeInteraction {
    const command = this.findCommand(args.name);
    const resolved = args.attachments?.length ? { attachments: Object.fromEntries(args.attachments.map((a) => [a.id, a])) } : undefined;
    return this.dispatchInteraction(args.autocomplete ? 4 : 2, {
      user: args.user,
      roles: args.roles,
      attachmentSizeLimit: args.attachmentSizeLimit,
      data: {
        id: command?.id ?? snowflake(),
        name: args.name,
        type: 1,
        guild_id: command?.guild_id,
        options: args.options ?? [],
        ...(resolved ? { resolved } : {}),
      },
    });
  }

  /**
   * Dispatch a button press on a message the fake holds. `forged` sends a custom_id the message
   * does not carry, as a modified client can: Discord passes it on unchecked.
   */
  pressButton(args: { messageId: string; customId: string; user: FakeUser; roles?: string[]; attachmentSizeLimit?: number; forged?: boolean }): FakeInteraction {
    const message = this.messages.get(args.messageId);
    if (!message || message.deleted) throw new Error(`no message ${args.messageId} to press a button on`);
    const ids = message.components.flatMap((row: any) => (row.components ?? []).map((c: any) => c.custom_id));
    if (!args.forged && !ids.includes(args.customId)) throw new Error(`message ${args.messageId} has no button ${args.customId} (has ${ids.join(', ')})`);
    return this.dispatchInteraction(3, {
      user: args.user,
      roles: args.roles,
      attachmentSizeLimit: args.attachmentSizeLimit,
      message: this.publicMessage(message),
      sourceMessageId: message.id,
      data: { custom_id: args.customId, component_type: 2 },
    });
  }

  /**
   * Dispatch the submission of a modal the bot showed in answer to `opened` (an interaction whose
   * callback was a modal), as Discord does when the user presses Submit: every text input with its
   * value (`values` by custom_id; the others keep the value the bot prefilled). A modal opened from
   * a button carries the message the button was on.
   */
  submitModal(args: { opened: FakeInteraction; user: FakeUser; values?: Record<string, string>; roles?: string[] }): FakeInteraction {
    const modal = args.opened.modal;
    if (!modal) throw new Error(`interaction ${args.opened.id} was not answered with a modal`);
    const inputs = modalInputs(modal);
    const source = args.opened.sourceMessageId ? this.messages.get(args.opened.sourceMessageId) : undefined;
    return this.dispatchInteraction(5, {
      user: args.user,
      roles: args.roles,
      ...(source ? { message: this.publicMessage(source), sourceMessageId: source.id } : {}),
      data: {
        custom_id: modal.custom_id,
        components: inputs.map((input) => ({ type: 1, components: [{ type: 4, custom_id: input.custom_id, value: args.values?.[input.custom_id] ?? input.value ?? '' }] })),
      },
    });
  }

  /**
   * An interaction the bot has already deferred (type 5), without a gateway round trip: what a
   * worker sees when it picks up a job. The original reply exists and the token is valid.
   */
  deferredInteraction(): FakeInteraction {
    const interaction = this.registerInteraction(2);
    const message = this.createMessage(this.channelId, { body: {}, files: [] }, { interactionId: interaction.id, webhook: true });
    interaction.acknowledgedAt = Date.now();
    interaction.callbackType = 5;
    interaction.originalMessageId = message.id;
    return interaction;
  }

  /** Dispatch MESSAGE_REACTION_ADD, as Discord does for a message the bot may never have cached. */
  react(args: { messageId: string; emoji: string; user: FakeUser; roles?: string[] }): void {
    const message = this.messages.get(args.messageId);
    this.reactions.push({ channelId: message?.channel_id ?? this.channelId, messageId: args.messageId, emoji: args.emoji, userId: args.user.id });
    this.dispatch('MESSAGE_REACTION_ADD', {
      user_id: args.user.id,
      channel_id: message?.channel_id ?? this.channelId,
      message_id: args.messageId,
      guild_id: this.guildId,
      member: this.member(args.user, args.roles),
      emoji: { id: null, name: args.emoji },
      burst: false,
      burst_colors: [],
      type: 0,
      message_author_id: message?.author.id,
    });
  }

  /** Channel messages (not deleted, not ephemeral) in creation order. */
  channelMessages(channelId = this.channelId): FakeMessage[] {
    return [...this.messages.values()].filter((m) => m.channel_id === channelId && !m.deleted && !(m.flags & 64));
  }

  callsTo(method: string, path: RegExp): RecordedCall[] {
    return this.calls.filter((c) => c.method === method && path.test(c.path));
  }

  async waitFor<T>(probe: () => T | undefined | null | false, what: string, timeoutMs = 30_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = probe();
      if (value) return value;
      if (Date.now() > deadline) throw new Error(`fake discord: timed out after ${timeoutMs} ms waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  /** Create a guild role (GUILD_ROLE_CREATE to connected clients), as a server admin would before assigning it. */
  createRole(id: string, name: string): void {
    const role = { id, name, permissions: '0', position: this.roles.length, color: 0, hoist: false, managed: false, mentionable: false, flags: 0 };
    this.roles.push(role);
    if (this.connectedClients > 0) this.dispatch('GUILD_ROLE_CREATE', { guild_id: this.guildId, role });
  }

  /** Drop every gateway connection as a network failure would (the client is expected to resume). */
  dropGatewayConnections(code = 4000): void {
    for (const c of this.connections) c.socket.close(code, 'Unknown error');
  }

  /** How many sessions were resumed (op 6) rather than identified anew. */
  resumes = 0;

  get connectedClients(): number {
    return [...this.connections].filter((c) => c.identified).length;
  }

  // ---------------------------------------------------------------- gateway

  private dispatchInteraction(
    type: number,
    args: { user: FakeUser; roles?: string[]; attachmentSizeLimit?: number; data: unknown; message?: unknown; sourceMessageId?: string },
  ): FakeInteraction {
    const interaction = this.registerInteraction(type, args.sourceMessageId);
    interaction.userId = args.user.id;
    this.dispatch('INTERACTION_CREATE', {
      id: interaction.id,
      application_id: this.applicationId,
      type,
      token: interaction.token,
      version: 1,
      guild_id: this.guildId,
      channel_id: this.channelId,
      channel: { id: this.channelId, type: 0, guild_id: this.guildId, name: 'general', nsfw: false, permissions: '2248473465835073' },
      member: this.member(args.user, args.roles),
      app_permissions: '2248473465835073',
      locale: 'en-US',
      guild_locale: 'en-US',
      entitlements: [],
      authorizing_integration_owners: { '0': this.guildId },
      context: 0,
      attachment_size_limit: args.attachmentSizeLimit ?? this.attachmentSizeLimit,
      data: args.data,
      ...(args.message ? { message: args.message } : {}),
    });
    return interaction;
  }

  private registerInteraction(type: number, sourceMessageId?: string): FakeInteraction {
    const interaction: FakeInteraction = {
      id: snowflake(),
      token: `aW50ZXJhY3Rpb24.${randomBytes(24).toString('base64url')}`,
      type,
      createdAt: Date.now(),
      acknowledgedAt: null,
      callbackType: null,
      expired: false,
      originalMessageId: null,
      sourceMessageId,
    };
    this.interactions.set(interaction.id, interaction);
    return interaction;
  }

  dispatch(t: string, d: unknown): void {
    const live = [...this.connections].filter((c) => c.identified);
    if (live.length === 0) throw new Error(`fake discord: no identified gateway connection to dispatch ${t} to`);
    for (const c of live) this.send(c, { op: 0, t, s: ++this.sequence, d });
  }

  private send(c: GatewayConnection, payload: unknown): void {
    c.socket.send(JSON.stringify(payload));
  }

  private onGatewayConnection(socket: WebSocket, url: string): void {
    const params = new URL(url, this.baseUrl).searchParams;
    if (params.get('v') !== FAKE_API_VERSION || params.get('encoding') !== 'json') {
      socket.close(4012, 'Invalid API version or encoding');
      return;
    }
    const conn: GatewayConnection = { socket, identified: false, intents: null };
    this.connections.add(conn);
    socket.on('close', () => this.connections.delete(conn));
    socket.on('message', (raw) => this.onGatewayMessage(conn, raw.toString()));
    this.send(conn, { op: 10, d: { heartbeat_interval: this.heartbeatIntervalMs } });
  }

  private onGatewayMessage(conn: GatewayConnection, raw: string): void {
    let packet: { op: number; d: any };
    try {
      packet = JSON.parse(raw);
    } catch {
      conn.socket.close(4002, 'Decode error');
      return;
    }
    switch (packet.op) {
      case 1:
        this.heartbeatAcks++;
        this.send(conn, { op: 11 });
        return;
      case 2:
        return this.onIdentify(conn, packet.d);
      case 6:
        if (packet.d?.token !== this.token) {
          conn.socket.close(4004, 'Authentication failed');
          return;
        }
        conn.identified = true;
        this.resumes++;
        this.send(conn, { op: 0, t: 'RESUMED', s: ++this.sequence, d: {} });
        return;
      default:
        return;
    }
  }

  private onIdentify(conn: GatewayConnection, d: any): void {
    this.identifies.push(d);
    if (d?.token !== this.token) {
      conn.socket.close(4004, 'Authentication failed');
      return;
    }
    if (typeof d.intents !== 'number' || d.intents & PRIVILEGED_INTENTS) {
      conn.socket.close(4014, 'Disallowed intent(s)');
      return;
    }
    conn.identified = true;
    conn.intents = d.intents;
    this.sessionId = randomBytes(8).toString('hex');
    this.send(conn, {
      op: 0,
      t: 'READY',
      s: ++this.sequence,
      d: {
        v: 10,
        user: { ...this.botUser, discriminator: '0', avatar: null, verified: true, flags: 0 },
        guilds: [{ id: this.guildId, unavailable: true }],
        session_id: this.sessionId,
        resume_gateway_url: this.gatewayUrl,
        shard: d.shard ?? [0, 1],
        application: { id: this.applicationId, flags: 0 },
      },
    });
    this.send(conn, { op: 0, t: 'GUILD_CREATE', s: ++this.sequence, d: this.guildPayload() });
  }

  private guildPayload() {
    return {
      id: this.guildId,
      name: 'Test guild',
      icon: null,
      owner_id: snowflake(),
      afk_channel_id: null,
      afk_timeout: 300,
      verification_level: 0,
      default_message_notifications: 0,
      explicit_content_filter: 0,
      roles: [{ id: this.guildId, name: '@everyone', permissions: '2248473465835073', position: 0, color: 0, hoist: false, managed: false, mentionable: false, flags: 0 }, ...this.roles],
      emojis: [],
      stickers: [],
      features: [],
      mfa_level: 0,
      system_channel_id: null,
      system_channel_flags: 0,
      rules_channel_id: null,
      vanity_url_code: null,
      description: null,
      banner: null,
      premium_tier: 0,
      preferred_locale: 'en-US',
      public_updates_channel_id: null,
      nsfw_level: 0,
      premium_progress_bar_enabled: false,
      joined_at: new Date(0).toISOString(),
      large: false,
      unavailable: false,
      member_count: 3,
      voice_states: [],
      members: [],
      channels: [{ id: this.channelId, type: 0, guild_id: this.guildId, name: 'general', position: 0, permission_overwrites: [], nsfw: false, topic: null, last_message_id: null, rate_limit_per_user: 0, parent_id: null }],
      threads: [],
      presences: [],
      stage_instances: [],
      guild_scheduled_events: [],
      soundboard_sounds: [],
    };
  }

  private findCommand(name: string): any | undefined {
    for (const list of this.commands.values()) {
      const found = list.find((c) => c.name === name);
      if (found) return found;
    }
    return undefined;
  }

  // ---------------------------------------------------------------- REST

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.baseUrl);
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks);

    const upload = url.pathname.match(/^\/attachments\/\d+\/(\d+)\//);
    if (req.method === 'GET' && upload) {
      const found = this.uploads.get(upload[1]);
      if (!found) return void this.reply(res, 404, { message: 'Not found' });
      const fetches = this.uploadFetches.get(upload[1]) ?? { requests: 0, bytesSent: 0 };
      fetches.requests++;
      this.uploadFetches.set(upload[1], fetches);
      if (found.streamBytes === undefined) {
        fetches.bytesSent += found.data.length;
        res.writeHead(200, { 'content-type': found.contentType, 'content-length': found.data.length });
        return void res.end(found.data);
      }
      res.writeHead(200, { 'content-type': found.contentType });
      const chunk = randomBytes(64 * 1024);
      let left = found.streamBytes;
      const pump = () => {
        while (left > 0 && !res.destroyed) {
          const part = chunk.subarray(0, Math.min(chunk.length, left));
          left -= part.length;
          fetches.bytesSent += part.length;
          if (!res.write(part)) return void res.once('drain', pump);
        }
        if (left === 0) res.end();
      };
      return void pump();
    }

    const prefix = `/api/v${FAKE_API_VERSION}`;
    if (!url.pathname.startsWith(prefix)) return void this.reply(res, 404, { message: '404: Not Found', code: 0 });
    const path = url.pathname.slice(prefix.length);
    const method = req.method ?? 'GET';
    const { body, files } = await parseBody(raw, req.headers['content-type']);
    const call: RecordedCall = {
      method,
      path,
      query: Object.fromEntries(url.searchParams),
      authorization: req.headers.authorization ?? null,
      body,
      files,
      status: 0,
      at: Date.now(),
    };
    this.calls.push(call);

    const fault = this.faults.find((f) => f.times > 0 && f.path.test(path) && (!f.method || f.method === method) && (!f.when || f.when(call)));
    if (fault) {
      fault.times--;
      call.status = fault.status;
      return void this.reply(res, fault.status, fault.body ?? { message: `injected ${fault.status}`, code: 0 }, fault.headers);
    }
    const [status, payload] = this.route(method, path, call);
    call.status = status;
    this.onCall?.(call);
    this.reply(res, status, payload);
  }

  private reply(res: http.ServerResponse, status: number, payload: unknown, headers: Record<string, string> = {}): void {
    if (status === 204) {
      res.writeHead(204, headers);
      return void res.end();
    }
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify(payload));
  }

  private route(method: string, path: string, call: RecordedCall): [number, unknown] {
    const botAuth = call.authorization === `Bot ${this.token}`;
    const m = (re: RegExp) => path.match(re);
    let g: RegExpMatchArray | null;

    // Interaction callback: no bot auth, the token is the credential.
    if (method === 'POST' && (g = m(/^\/interactions\/(\d+)\/([^/]+)\/callback$/))) {
      return this.interactionCallback(g[1], g[2], call);
    }
    // Interaction webhooks: no bot auth either.
    if ((g = m(/^\/webhooks\/(\d+)\/([^/]+)(?:\/messages\/([^/]+))?$/))) {
      return this.webhookRoute(method, g[1], g[2], g[3] === undefined ? undefined : decodeURIComponent(g[3]), call);
    }

    if (!botAuth) return [401, { message: '401: Unauthorized', code: 0 }];

    if (method === 'GET' && path === '/gateway/bot') {
      return [200, { url: this.gatewayUrl, shards: 1, session_start_limit: { total: 1000, remaining: 999, reset_after: 0, max_concurrency: 1 } }];
    }
    if (method === 'GET' && path === '/users/@me') return [200, { ...this.botUser, discriminator: '0', avatar: null }];
    if ((g = m(/^\/applications\/(\d+)(?:\/guilds\/(\d+))?\/commands$/))) {
      if (g[1] !== this.applicationId) return [403, { message: 'Missing Access', code: 50001 }];
      const scope = g[2] ? `guild:${g[2]}` : 'global';
      if (method === 'GET') return [200, this.commands.get(scope) ?? []];
      if (method === 'PUT') {
        if (!Array.isArray(call.body)) return [400, { message: 'Invalid Form Body', code: 50035 }];
        const stored = call.body.map((c: any) => ({ ...c, id: snowflake(), application_id: this.applicationId, version: snowflake(), ...(g![2] ? { guild_id: g![2] } : {}) }));
        this.commands.set(scope, stored);
        return [200, stored];
      }
    }
    if ((g = m(/^\/channels\/(\d+)$/)) && method === 'GET') {
      if (g[1] !== this.channelId) return [404, { message: 'Unknown Channel', code: 10003 }];
      return [200, { id: this.channelId, type: 0, guild_id: this.guildId, name: 'general', position: 0, permission_overwrites: [], nsfw: this.channelNsfw }];
    }
    if ((g = m(/^\/channels\/(\d+)\/messages$/)) && method === 'POST') {
      if (g[1] !== this.channelId) return [404, { message: 'Unknown Channel', code: 10003 }];
      const tooBig = this.oversize(call);
      if (tooBig) return tooBig;
      const nonce = call.body?.nonce;
      if (nonce !== undefined && call.body?.enforce_nonce) {
        const existing = [...this.messages.values()].find((x) => x.nonce === nonce && x.author.id === this.botUser.id && Date.now() - Date.parse(x.timestamp) < 5 * 60_000);
        if (existing) return [200, this.publicMessage(existing)];
      }
      const msg = this.createMessage(g[1], call, {});
      return [200, this.publicMessage(msg)];
    }
    if ((g = m(/^\/channels\/(\d+)\/messages\/(\d+)$/))) {
      const msg = this.messages.get(g[2]);
      if (!msg || msg.deleted || msg.channel_id !== g[1] || msg.flags & 64) return [404, { message: 'Unknown Message', code: 10008 }];
      if (method === 'PATCH' && msg.author.id !== this.botUser.id) return [403, { message: 'Cannot edit a message authored by another user', code: 50005 }];
      const reply = this.messageVerb(method, msg, call);
      if (reply) return reply;
    }
    if ((g = m(/^\/channels\/(\d+)\/messages\/(\d+)\/reactions\/([^/]+)\/(?:@|%40)me$/))) {
      if (!this.messages.get(g[2])) return [404, { message: 'Unknown Message', code: 10008 }];
      const emoji = decodeURIComponent(g[3]);
      if (method === 'PUT') {
        this.reactions.push({ channelId: g[1], messageId: g[2], emoji, userId: this.botUser.id });
        return [204, null];
      }
    }
    if ((g = m(/^\/guilds\/(\d+)\/members\/(\d+)$/)) && method === 'GET') {
      return [200, this.member(this.user(g[2]))];
    }
    return [404, { message: '404: Not Found', code: 0 }];
  }

  private interactionCallback(id: string, token: string, call: RecordedCall): [number, unknown] {
    const it = this.interactions.get(id);
    if (!it || it.token !== token) return [404, { message: 'Unknown interaction', code: 10062 }];
    if (it.acknowledgedAt !== null) return [400, { message: 'Interaction has already been acknowledged.', code: 40060 }];
    if (Date.now() - it.createdAt > this.ackWindowMs) return [404, { message: 'Unknown interaction', code: 10062 }];
    const type = call.body?.type;
    const data = call.body?.data ?? {};
    it.acknowledgedAt = Date.now();
    it.callbackType = type;
    let message: FakeMessage | undefined;
    if (type === 4 || type === 5) {
      const tooBig = this.oversize(call);
      if (tooBig) return tooBig;
      message = this.createMessage(this.channelId, { ...call, body: type === 5 ? { flags: data.flags } : data }, { interactionId: id, webhook: true });
      it.originalMessageId = message.id;
    } else if (type === 7 || type === 6) {
      const source = it.sourceMessageId ? this.messages.get(it.sourceMessageId) : undefined;
      if (!source) return [400, { message: 'Invalid Form Body', code: 50035 }];
      if (type === 7) this.editMessage(source, { ...call, body: data });
    } else if (type === 8) {
      it.choices = data.choices ?? [];
    } else if (type === 9) {
      // A modal is answered instead of anything else, and never to a modal submit.
      const problem = it.type === 5 ? 'a modal cannot answer a modal submit' : modalProblem(data);
      if (problem) return [400, { message: 'Invalid Form Body', code: 50035, errors: { data: { _errors: [{ code: 'MODAL_INVALID', message: problem }] } } }];
      it.modal = data;
    } else {
      return [400, { message: 'Invalid Form Body', code: 50035 }];
    }
    if (call.query.with_response === 'true') {
      return [200, { interaction: { id, type: it.type }, resource: { type, ...(message && type === 4 ? { message: this.publicMessage(message) } : {}) } }];
    }
    return [204, null];
  }

  private webhookRoute(method: string, appId: string, token: string, messageRef: string | undefined, call: RecordedCall): [number, unknown] {
    const it = [...this.interactions.values()].find((x) => x.token === token);
    if (appId !== this.applicationId || !it) return [404, { message: 'Unknown Webhook', code: 10015 }];
    if (it.expired) return [401, { message: 'Invalid Webhook Token', code: 50027 }];
    if (messageRef === undefined) {
      if (method !== 'POST') return [405, { message: '405: Method Not Allowed', code: 0 }];
      if (it.acknowledgedAt === null) return [404, { message: 'Unknown Webhook', code: 10015 }];
      const tooBig = this.oversize(call);
      if (tooBig) return tooBig;
      const msg = this.createMessage(this.channelId, call, { interactionId: it.id, webhook: true });
      return [200, this.publicMessage(msg)];
    }
    // After a deferred update (6) or update (7), @original is the message the component was on.
    const original = it.callbackType === 6 || it.callbackType === 7 ? it.sourceMessageId : it.originalMessageId;
    const id = messageRef === '@original' ? original : messageRef;
    const msg = id ? this.messages.get(id) : undefined;
    if (!msg || msg.deleted || (msg.interactionId !== it.id && msg.id !== original)) return [404, { message: 'Unknown Message', code: 10008 }];
    return this.messageVerb(method, msg, call) ?? [405, { message: '405: Method Not Allowed', code: 0 }];
  }

  /** GET, PATCH (edit) or DELETE of a message the caller may touch; null for another verb. */
  private messageVerb(method: string, msg: FakeMessage, call: RecordedCall): [number, unknown] | null {
    if (method === 'GET') return [200, this.publicMessage(msg)];
    if (method === 'PATCH') {
      const tooBig = this.oversize(call);
      if (tooBig) return tooBig;
      this.editMessage(msg, call);
      return [200, this.publicMessage(msg)];
    }
    if (method === 'DELETE') {
      msg.deleted = true;
      return [204, null];
    }
    return null;
  }

  /**
   * What Discord refuses about a message body before looking at it further: a file over the
   * upload limit (40005), or an `attachments` entry that breaks the reference's attachment
   * request structure (50035): the id is a snowflake, a string in JSON; the description (alt
   * text) is at most 1024 characters.
   */
  private oversize(call: RecordedCall): [number, unknown] | null {
    if (call.files.some((f) => f.data.length > this.attachmentSizeLimit)) return [413, { message: 'Request entity too large', code: 40005 }];
    const described: unknown = call.body?.attachments ?? call.body?.data?.attachments;
    if (described === undefined) return null;
    const bad = !Array.isArray(described) || described.some((a: any) => typeof a?.id !== 'string' || !/^\d+$/.test(a.id) || (a.description !== undefined && (typeof a.description !== 'string' || a.description.length > 1024)));
    return bad ? [400, { message: 'Invalid Form Body', code: 50035, errors: { attachments: { _errors: [{ code: 'BASE_TYPE_INVALID', message: 'attachments[].id must be a snowflake string; description at most 1024 characters' }] } } }] : null;
  }

  private createMessage(channelId: string, call: Pick<RecordedCall, 'body' | 'files'>, opts: { interactionId?: string; webhook?: boolean }): FakeMessage {
    const body = call.body ?? {};
    const msg: FakeMessage = {
      id: snowflake(),
      channel_id: channelId,
      guild_id: this.guildId,
      author: { ...this.botUser, discriminator: '0', avatar: null },
      content: body.content ?? '',
      timestamp: new Date().toISOString(),
      edited_timestamp: null,
      tts: false,
      mention_everyone: false,
      mentions: [],
      mention_roles: [],
      attachments: [],
      embeds: body.embeds ?? [],
      components: body.components ?? [],
      pinned: false,
      type: opts.interactionId ? 20 : 0,
      flags: body.flags ?? 0,
      nonce: body.nonce,
      files: [],
      deleted: false,
      interactionId: opts.interactionId,
      referencedMessageId: body.message_reference?.message_id,
      ...(opts.webhook ? { webhook_id: this.applicationId, application_id: this.applicationId } : {}),
    };
    this.attach(msg, call.files, body.attachments);
    this.messages.set(msg.id, msg);
    return msg;
  }

  private editMessage(msg: FakeMessage, call: Pick<RecordedCall, 'body' | 'files'>): void {
    const body = call.body ?? {};
    if ('content' in body) msg.content = body.content ?? '';
    if ('components' in body) msg.components = body.components ?? [];
    if ('embeds' in body) msg.embeds = body.embeds ?? [];
    if ('flags' in body && body.flags !== undefined) msg.flags = body.flags;
    msg.edited_timestamp = new Date().toISOString();
    this.attach(msg, call.files, body.attachments);
  }

  /**
   * Discord's rule for attachments on create/edit: `attachments` lists what the message keeps
   * (existing ids) and describes new uploads (ids are indexes into files[n]); without it, new
   * files are added to what is there.
   */
  private attach(msg: FakeMessage, files: RecordedFile[], described: Array<{ id: string; filename?: string; description?: string }> | undefined): void {
    const fileByIndex = new Map<number, RecordedFile>();
    for (const f of files) {
      const n = Number(f.field.match(/^files\[(\d+)\]$/)?.[1] ?? NaN);
      if (Number.isInteger(n)) fileByIndex.set(n, f);
    }
    const kept: FakeAttachment[] = [];
    const keptFiles: RecordedFile[] = [];
    const add = (f: RecordedFile, filename: string, description?: string) => {
      const a = { ...this.addUpload(filename, f.data, f.contentType), ...(description !== undefined ? { description } : {}) };
      kept.push(a);
      keptFiles.push({ ...f, name: filename });
    };
    if (described) {
      for (const d of described) {
        const existingIndex = msg.attachments.findIndex((a) => a.id === String(d.id));
        if (existingIndex >= 0) {
          kept.push(msg.attachments[existingIndex]);
          keptFiles.push(msg.files[existingIndex]);
          continue;
        }
        const f = fileByIndex.get(Number(d.id));
        if (f) add(f, d.filename ?? f.name, d.description);
      }
    } else {
      kept.push(...msg.attachments);
      keptFiles.push(...msg.files);
      for (const f of fileByIndex.values()) add(f, f.name);
    }
    msg.attachments = kept;
    msg.files = keptFiles;
  }

  private publicMessage(msg: FakeMessage): Omit<FakeMessage, 'files' | 'deleted' | 'interactionId' | 'referencedMessageId'> {
    const { files: _files, deleted: _deleted, interactionId: _interaction, referencedMessageId: _reference, ...rest } = msg;
    return rest;
  }
}

async function parseBody(raw: Buffer, contentType: string | undefined): Promise<{ body: any; files: RecordedFile[] }> {
  if (raw.length === 0) return { body: undefined, files: [] };
  if (contentType?.startsWith('multipart/form-data')) {
    const form = await new Response(new Uint8Array(raw), { headers: { 'content-type': contentType } }).formData();
    const entries: Array<[string, FormDataEntryValue]> = [];
    form.forEach((value, field) => entries.push([field, value]));
    const files: RecordedFile[] = [];
    let body: any;
    for (const [field, value] of entries) {
      if (typeof value === 'string') {
        if (field === 'payload_json') body = JSON.parse(value);
        continue;
      }
      files.push({ field, name: value.name, contentType: value.type, data: Buffer.from(await value.arrayBuffer()) });
    }
    return { body, files };
  }
  if (contentType?.includes('application/json')) return { body: JSON.parse(raw.toString('utf8')), files: [] };
  return { body: raw.toString('utf8'), files: [] };
}

/** The text inputs of a modal, whether in action rows (type 1) or labels (type 18). */
function modalInputs(modal: any): any[] {
  return (modal.components ?? []).flatMap((c: any) => (c.type === 1 ? (c.components ?? []) : c.type === 18 ? [c.component] : [])).filter((c: any) => c?.type === 4);
}

/** What Discord refuses about a modal: its id, title and 1-5 text inputs within their limits. */
function modalProblem(modal: any): string | null {
  if (typeof modal?.custom_id !== 'string' || modal.custom_id.length < 1 || modal.custom_id.length > 100) return 'custom_id must be 1-100 characters';
  if (typeof modal.title !== 'string' || modal.title.length < 1 || modal.title.length > 45) return 'title must be 1-45 characters';
  const rows = modal.components ?? [];
  if (!Array.isArray(rows) || rows.length < 1 || rows.length > 5) return 'a modal has 1-5 components';
  const inputs = modalInputs(modal);
  if (inputs.length !== rows.length) return 'every component must hold one text input';
  for (const input of inputs) {
    if (typeof input.custom_id !== 'string' || input.custom_id.length < 1 || input.custom_id.length > 100) return 'a text input needs a custom_id of 1-100 characters';
    if (![1, 2].includes(input.style)) return 'a text input style is 1 (short) or 2 (paragraph)';
    if (input.value !== undefined && (typeof input.value !== 'string' || input.value.length > (input.max_length ?? 4000))) return 'a prefilled value must fit max_length (at most 4000)';
  }
  return null;
}
