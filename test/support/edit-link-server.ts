/**
 * The region editor that Vary (Region) links from chat lead to, for the chat end-to-end tests:
 * the process HTTP server (its address is the stack's PUBLIC_URL, so it is started first) with
 * the web adapter in links-only mode mounted once the stack runs, exactly as a chat deployment
 * without the playground serves it. `EditorBrowser` is one browser: it keeps its own cookies.
 */
import sharp from 'sharp';
import { MemoryWebEventHub } from '../../adapters/web/events.ts';
import { startWebAdapter, type WebAdapter } from '../../adapters/web/start.ts';
import { FsArtifactStore } from '../../src/artifacts-fs.ts';
import { createHttpServer, type HttpServerHandle } from '../../src/http-server.ts';
import { createLogger } from '../../src/logger.ts';
import { tokenCounter } from '../../src/root/token-counter.ts';
import type { StackView } from './e2e-stack.ts';

export interface EditorServer {
  http: HttpServerHandle;
  /** The address to give the stack as PUBLIC_URL. */
  url: string;
  /** Mount the editor routes on the stack's stores (after the stack started). */
  mount(stack: StackView): Promise<void>;
  close(): Promise<void>;
}

export async function startEditorServer(): Promise<EditorServer> {
  const logger = createLogger({ level: 'silent' });
  const http = await createHttpServer({ port: 0, host: '127.0.0.1', logger });
  let web: WebAdapter | null = null;
  return {
    http,
    url: http.url,
    async mount(stack) {
      web = await startWebAdapter({
        config: stack.config,
        queue: stack.queue,
        results: stack.results,
        kv: stack.kv,
        models: stack.models,
        countTokens: tokenCounter(),
        logger,
        http,
        artifacts: new FsArtifactStore(stack.config.ARTIFACT_DIR),
        hub: new MemoryWebEventHub(),
        playground: stack.config.WEB_PLAYGROUND === 'on',
      });
    },
    async close() {
      await web?.close();
      await http.close();
    },
  };
}

export interface EditorResponse {
  status: number;
  type: string;
  body: Buffer;
  text(): string;
  json(): any;
}

/** One browser opening editor links: its cookies travel with each of its requests, and only its. */
export class EditorBrowser {
  private readonly cookies = new Map<string, string>();

  async request(url: string, init: { method?: string; json?: unknown } = {}): Promise<EditorResponse> {
    const headers: Record<string, string> = {};
    if (this.cookies.size) headers.cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    if (init.json !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(url, { method: init.method ?? (init.json !== undefined ? 'POST' : 'GET'), headers, body: init.json !== undefined ? JSON.stringify(init.json) : undefined, redirect: 'manual' });
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const eq = pair.indexOf('=');
      this.cookies.set(pair.slice(0, eq).trim(), pair.slice(eq + 1).trim());
    }
    const body = Buffer.from(await res.arrayBuffer());
    return { status: res.status, type: res.headers.get('content-type') ?? '', body, text: () => body.toString('utf8'), json: () => JSON.parse(body.toString('utf8')) };
  }
}

/** A mask the size of the image: white (repaint) inside the box, black elsewhere, as a PNG data URL. */
export async function boxMask(width: number, height: number, box: { left: number; top: number; width: number; height: number }): Promise<{ dataUrl: string; png: Buffer }> {
  const white = await sharp({ create: { width: box.width, height: box.height, channels: 3, background: '#ffffff' } }).png().toBuffer();
  const png = await sharp({ create: { width, height, channels: 3, background: '#000000' } })
    .composite([{ input: white, left: box.left, top: box.top }])
    .png()
    .toBuffer();
  return { dataUrl: `data:image/png;base64,${png.toString('base64')}`, png };
}

/** The link in a message's text: PUBLIC_URL/edit?link=… */
export function linkIn(text: string, publicUrl: string): string | null {
  const at = text.indexOf(`${publicUrl}/edit?link=`);
  if (at < 0) return null;
  return /^\S+/.exec(text.slice(at))![0].replace(/[>|].*$/, '');
}
