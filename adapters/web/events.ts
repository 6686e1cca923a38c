/**
 * How the web deliverer (in whichever process runs the job) reaches the browser tabs (held by
 * the process serving the playground). In one process that is a plain in-memory fan-out; in a
 * fleet the worker and the bot are different processes, so events travel over a Redis pub/sub
 * channel beside the queue's keys. Either way the deliverer publishes and the web adapter
 * subscribes; neither knows which transport is underneath.
 */
import { duplicateRedis, type RedisClient } from '../../src/redis.ts';
import { z } from 'zod';
import { resultSchema } from '../../src/jobs.ts';
import type { Logger } from '../../src/logger.ts';
import { queueKeys, type QueueKeyConfig } from '../../src/queue/keys.ts';

const base = { session: z.string().min(1).max(64), jobId: z.string().min(1).max(128) };

export const webEventSchema = z.discriminatedUnion('type', [
  z.object({
    ...base,
    type: z.literal('progress'),
    step: z.number().int(),
    total: z.number().int(),
    etaMs: z.number().nullable(),
    /** A data: URL of the latent preview PNG. */
    preview: z.string().optional(),
  }),
  z.object({ ...base, type: z.literal('result'), result: resultSchema }),
  z.object({ ...base, type: z.literal('failure'), message: z.string(), retry: z.boolean(), cancelled: z.boolean() }),
]);
export type WebEvent = z.infer<typeof webEventSchema>;

export interface WebEventHub {
  publish(event: WebEvent): Promise<void>;
  /** Every event published from now on (by any process); returns the unsubscribe. */
  subscribe(listener: (event: WebEvent) => void): () => void;
  close(): Promise<void>;
}

export class MemoryWebEventHub implements WebEventHub {
  private readonly listeners = new Set<(event: WebEvent) => void>();

  async publish(event: WebEvent): Promise<void> {
    for (const listener of this.listeners) listener(event);
  }

  subscribe(listener: (event: WebEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async close(): Promise<void> {
    this.listeners.clear();
  }
}

export function webEventsChannel(config: QueueKeyConfig): string {
  return `${queueKeys(config).base}:web-events`;
}

/**
 * Pub/sub over Redis. Publishing uses the given client connection; the subscription gets its
 * own duplicated connection (a subscribed connection can run nothing else), made on the first
 * subscribe, so a worker that only publishes never holds one.
 */
export class RedisWebEventHub implements WebEventHub {
  private readonly channel: string;
  private readonly listeners = new Set<(event: WebEvent) => void>();
  private subscriber: RedisClient | null = null;
  private ready: Promise<void> | null = null;

  constructor(
    private readonly redis: RedisClient,
    config: QueueKeyConfig,
    private readonly logger?: Pick<Logger, 'warn'>,
  ) {
    this.channel = webEventsChannel(config);
  }

  async publish(event: WebEvent): Promise<void> {
    await this.redis.publish(this.channel, JSON.stringify(event));
  }

  subscribe(listener: (event: WebEvent) => void): () => void {
    this.listeners.add(listener);
    this.ready ??= this.connect();
    return () => this.listeners.delete(listener);
  }

  /** Resolves once the subscription is active (events published before that are not heard). */
  whenSubscribed(): Promise<void> {
    return this.ready ?? Promise.resolve();
  }

  async close(): Promise<void> {
    this.listeners.clear();
    const sub = this.subscriber;
    this.subscriber = null;
    if (!sub) return;
    try {
      await sub.quit();
    } catch {
      sub.disconnect();
    }
  }

  private async connect(): Promise<void> {
    const sub = duplicateRedis(this.redis, 'web-events');
    this.subscriber = sub;
    sub.on('error', (err: Error) => this.logger?.warn({ channel: this.channel, err: { message: err.message } }, 'web events connection error'));
    sub.on('message', (channel: string, text: string) => {
      if (channel !== this.channel) return;
      let parsed: ReturnType<typeof webEventSchema.safeParse>;
      try {
        parsed = webEventSchema.safeParse(JSON.parse(text));
      } catch {
        return;
      }
      if (!parsed.success) {
        this.logger?.warn({ channel: this.channel, issue: parsed.error.issues[0]?.message }, 'ignored a malformed web event');
        return;
      }
      for (const listener of this.listeners) listener(parsed.data);
    });
    await sub.subscribe(this.channel);
  }
}
