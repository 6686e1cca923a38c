/**
 * Live updates for open tabs, as server-sent events. Each session may have several tabs; each
 * gets every event for its session:
 *   hello      on connect: the session's gallery and its waiting/running jobs
 *   jobs       the session's jobs with their places in line, whenever they change
 *   progress   a running job's step, ETA and latent preview (from the deliverer)
 *   result     a finished result, ready to render (from the deliverer)
 *   failure    why a job ended without a result (from the deliverer)
 *   deleted    a result was removed (from another tab, too)
 * Places in line are read from the queue once a second while a session has jobs and a tab
 * open, so they work whichever backend holds the queue.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../../src/logger.ts';
import type { JobQueue } from '../../src/queue/types.ts';
import type { WebEvent, WebEventHub } from './events.ts';
import type { Gallery } from './gallery.ts';
import { cancelButtons, resultView, retryButtons, type FlaggedImagePolicy } from './view.ts';

const POLL_MS = 1000;
const KEEPALIVE_MS = 15_000;

interface Tab {
  res: ServerResponse;
}

interface SessionState {
  tabs: Set<Tab>;
  /** The last jobs report sent, to send only changes. */
  lastJobs: string;
  /** Polling continues while this is true: set by new jobs, cleared when the session has none left. */
  busy: boolean;
}

export class LiveUpdates {
  private readonly sessions = new Map<string, SessionState>();
  private readonly unsubscribe: () => void;
  private readonly poller: NodeJS.Timeout;
  private readonly keepalive: NodeJS.Timeout;
  private polling = false;

  constructor(
    private readonly deps: { queue: JobQueue; hub: WebEventHub; gallery: Gallery; logger: Logger; flagged: FlaggedImagePolicy },
  ) {
    this.unsubscribe = deps.hub.subscribe((event) => void this.onEvent(event).catch((err: unknown) => deps.logger.warn({ err }, 'web event handling failed')));
    this.poller = setInterval(() => void this.poll(), POLL_MS);
    this.poller.unref();
    this.keepalive = setInterval(() => this.broadcastComment(), KEEPALIVE_MS);
    this.keepalive.unref();
  }

  /** Serve an EventSource connection for `session`. */
  async connect(session: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    res.write('retry: 2000\n\n');
    const state = this.state(session);
    const tab: Tab = { res };
    state.tabs.add(tab);
    const drop = () => {
      state.tabs.delete(tab);
      if (state.tabs.size === 0) this.sessions.delete(session);
    };
    req.on('close', drop);
    res.on('error', drop);

    const [gallery, jobs] = await Promise.all([this.deps.gallery.list(session), this.jobsReport(session)]);
    state.lastJobs = JSON.stringify(jobs);
    state.busy = jobs.length > 0;
    this.write(tab, 'hello', { gallery: gallery.map((r) => resultView(r, this.deps.flagged)), jobs });
  }

  /** A job was just queued for `session`: watch its place in line. */
  touch(session: string): void {
    const state = this.sessions.get(session);
    if (state) state.busy = true;
  }

  /** Tell every tab of `session` (e.g. that a result was deleted). */
  send(session: string, event: string, data: unknown): void {
    const state = this.sessions.get(session);
    if (!state) return;
    for (const tab of state.tabs) this.write(tab, event, data);
  }

  close(): void {
    this.unsubscribe();
    clearInterval(this.poller);
    clearInterval(this.keepalive);
    for (const state of this.sessions.values()) for (const tab of state.tabs) tab.res.end();
    this.sessions.clear();
  }

  private state(session: string): SessionState {
    let state = this.sessions.get(session);
    if (!state) {
      state = { tabs: new Set(), lastJobs: '[]', busy: false };
      this.sessions.set(session, state);
    }
    return state;
  }

  private async onEvent(event: WebEvent): Promise<void> {
    switch (event.type) {
      case 'progress':
        this.send(event.session, 'progress', { jobId: event.jobId, step: event.step, total: event.total, etaMs: event.etaMs, preview: event.preview ?? null });
        return;
      case 'result':
        // Gallery first, so a tab that reloads on this event finds the result there.
        await this.deps.gallery.add(event.session, event.result.resultId);
        this.send(event.session, 'result', { jobId: event.jobId, result: resultView(event.result, this.deps.flagged) });
        return;
      case 'failure':
        this.send(event.session, 'failure', { jobId: event.jobId, message: event.message, cancelled: event.cancelled, rows: event.retry ? retryButtons(event.jobId) : [] });
        return;
    }
  }

  private async jobsReport(session: string) {
    const jobs = await this.deps.queue.userJobs(session);
    return jobs
      .filter((j) => j.payload.origin.platform === 'web')
      .map((j) => ({ jobId: j.jobId, state: j.state, position: j.position, prompt: j.payload.params.prompt, parentResultId: j.payload.parentResultId ?? null, rows: cancelButtons(j.jobId) }));
  }

  private async poll(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      for (const [session, state] of this.sessions) {
        if (!state.busy) continue;
        const jobs = await this.jobsReport(session);
        const text = JSON.stringify(jobs);
        if (jobs.length === 0) state.busy = false;
        if (text === state.lastJobs) continue;
        state.lastJobs = text;
        for (const tab of state.tabs) this.write(tab, 'jobs', { jobs });
      }
    } catch (err) {
      this.deps.logger.warn({ err }, 'reading places in line failed');
    } finally {
      this.polling = false;
    }
  }

  private write(tab: Tab, event: string, data: unknown): void {
    if (tab.res.writableEnded) return;
    tab.res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  }

  private broadcastComment(): void {
    for (const state of this.sessions.values()) for (const tab of state.tabs) if (!tab.res.writableEnded) tab.res.write(': keep-alive\n\n');
  }
}
