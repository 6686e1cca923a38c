/**
 * The playground's inbound side: what a browser session types (`/imagine`, `/help`, `/cancel`,
 * `/queue`) and which button it presses, turned into the same commands every platform runs
 * and then acted on (enqueue, cancel, delete). Buttons are handled from the result store
 * alone: the id names the result (or job), and the stored parameters make the new job.
 */
import { cancel } from '../../commands/cancel.ts';
import { commandContext, limitsFromConfig, type CommandContext, type CommandEnvironment, type CommandOutcome } from '../../commands/context.ts';
import { help } from '../../commands/help.ts';
import { imagine } from '../../commands/imagine.ts';
import { queuedEtaMs } from '../../commands/job-text.ts';
import { describeQueue } from '../../commands/queue-report.ts';
import { decodeFormId, promptLine, submitForm } from '../../commands/edit-forms.ts';
import { decideAction } from '../../commands/result-action.ts';
import { checkResultAccess } from '../../commands/result-access.ts';
import { varyRegion } from '../../commands/vary-region.ts';
import { decodeAction } from '../../src/actions.ts';
import type { ArtifactStore } from '../../src/artifacts.ts';
import { lookUpAction, type BotServices } from '../../commands/bot-services.ts';
import type { Config } from '../../src/config.ts';
import type { EditLink } from '../../src/edit-links.ts';
import { InvalidJobError, type JobResult, type Origin } from '../../src/jobs.ts';
import { parseWebCommand } from './command-text.ts';
import { MaskError, storeMask } from './region-mask.ts';
import type { Gallery } from './gallery.ts';
import { cancelButtons, type ButtonView } from './view.ts';
import { webCommandRules } from './command-rules.ts';

/** The playground keeps no platform state of its own in the key-value store; its gallery does. */
export interface WebInboundDeps extends Omit<BotServices, 'kv'> {
  config: Pick<Config, 'MAX_STEPS' | 'MAX_N' | 'ALLOWED_SAMPLERS' | 'PRESS_POLICY'>;
  artifacts: ArtifactStore;
  gallery: Gallery;
  /** The measured average job (src/job-durations.ts), for about when a queued job starts; absent = never known. */
  averageJobMs?: () => Promise<number | null>;
}

export type WebReply =
  | { kind: 'queued'; jobId: string; position: number; etaMs: number | null; duplicate: boolean; prompt: string; summary: string; warnings: string[]; parentResultId?: string; rows: ButtonView[][] }
  | { kind: 'message'; message: string; code: string }
  | { kind: 'cancelled'; jobIds: string[]; message: string }
  | { kind: 'deleted'; resultId: string; message: string };

export interface RegionRequest {
  resultId: string;
  index: number;
  /** The prompt as the editor sent it (unchanged: no remix). */
  prompt?: string;
  /** The mask PNG as uploaded (region-mask.ts checks it). */
  mask: Buffer;
}

/** Client request ids become dedupe ids: a double-click or a resent request makes one job. */
const REQUEST_ID = /^[A-Za-z0-9_-]{8,64}$/;

/** Who is asking: the session's user id (a keyed hash of the session, identity.ts), never the session id itself. */
export interface WebCaller {
  userId: string;
  /** The client address's keyed hash: the queue holds it to the per-user caps too (client-address.ts). */
  clientKey?: string;
}

export class WebInbound {
  private readonly env: CommandEnvironment;

  constructor(private readonly deps: WebInboundDeps) {
    this.env = { ...deps, limits: limitsFromConfig(deps.config), platformRules: webCommandRules };
  }

  /**
   * The job's origin. The request id is the browser's own and may be reused by any other
   * session, so the dedupe id it becomes is scoped to the user: a second session sending the
   * same id makes its own job instead of being handed the first one's.
   */
  origin(caller: WebCaller, requestId?: string): Origin {
    const { userId } = caller;
    return { platform: 'web', channelId: userId, userId, userName: 'you', ...(requestId && REQUEST_ID.test(requestId) ? { eventId: `web:${userId}:${requestId}` } : {}) };
  }

  private context(origin: Origin): CommandContext {
    return commandContext(this.env, origin);
  }

  /** Whatever the session typed into the box. */
  async text(caller: WebCaller, text: string, requestId?: string): Promise<WebReply> {
    const ctx = this.context(this.origin(caller, requestId));
    const command = parseWebCommand(text);
    switch (command.name) {
      case 'imagine':
        return this.act(imagine({ text: command.rest }, ctx), caller);
      case 'help':
        return this.act(help(ctx), caller);
      case 'cancel':
        return this.act(cancel({ jobs: await this.deps.queue.userJobs(caller.userId), ...(command.rest ? { jobId: command.rest } : {}) }, ctx), caller);
      case 'unknown':
        if (command.typed.toLowerCase() === 'queue') return this.queueReport(caller.userId);
        return { kind: 'message', code: 'unknown-command', message: `There is no /${command.typed.slice(0, 24)} here. Try /imagine, /cancel, /queue or /help.` };
    }
  }

  /** A button press: the action id the page got with a result, a job or a failure. */
  async press(caller: WebCaller, actionId: string, requestId?: string): Promise<WebReply> {
    const ref = decodeAction(actionId);
    if (!ref) return { kind: 'message', code: 'unknown-button', message: 'That button is not one of this playground’s.' };
    const facts = await lookUpAction(this.deps, ref, caller.userId);
    return this.act(decideAction(ref, facts, this.context(this.origin(caller, requestId))), caller);
  }

  /** A submitted Remix or Custom Zoom form (the inline form under a result): `id` is its button's action id. */
  async form(caller: WebCaller, id: string, text: string, requestId?: string): Promise<WebReply> {
    const ref = decodeFormId(id);
    if (!ref) return { kind: 'message', code: 'unknown-button', message: 'That form is not one of this playground’s.' };
    const facts = await lookUpAction(this.deps, ref, caller.userId);
    return this.act(submitForm(ref, text, facts, this.context(this.origin(caller, requestId))), caller);
  }

  /**
   * Vary (Region) from the editor over one image of the session's own result: the mask is
   * checked and stored, then the region job is queued like any other.
   */
  async region(caller: WebCaller, req: RegionRequest, requestId?: string): Promise<WebReply> {
    const found = await this.deps.results.get(req.resultId);
    // Only the session's own web results: anyone else's id is answered like an unknown one.
    const result = found && found.origin.platform === 'web' && found.origin.userId === caller.userId ? found : null;
    return this.regionJob(result, req, this.origin(caller, requestId), caller);
  }

  /** Vary (Region) through a link from chat: the job is the chat user's and is posted in their thread. */
  async regionFromLink(caller: WebCaller, link: EditLink, req: Omit<RegionRequest, 'resultId' | 'index'>): Promise<WebReply> {
    const { messageId: _shown, ...origin } = link.origin;
    // One link makes one job: a resent request finds the job it already made.
    return this.regionJob(await this.deps.results.get(link.resultId), { ...req, resultId: link.resultId, index: link.index }, { ...origin, eventId: `edit-link:${link.linkId}` }, caller);
  }

  private async regionJob(result: JobResult | null, req: RegionRequest, origin: Origin, caller: WebCaller): Promise<WebReply> {
    const ctx = this.context(origin);
    const denied = checkResultAccess(result, req.index, ctx);
    if (denied) return this.act(denied, caller);
    const image = result!.images[req.index];
    let maskArtifactKey: string;
    try {
      maskArtifactKey = await storeMask(this.deps.artifacts, req.mask, image);
    } catch (err) {
      if (err instanceof MaskError) return { kind: 'message', code: 'bad-mask', message: err.message };
      throw err;
    }
    // The prompt as the editor prefilled it is no remix.
    const prompt = req.prompt === undefined || req.prompt.trim() === promptLine(result!) ? undefined : req.prompt.trim();
    return this.act(varyRegion({ result, index: req.index, maskArtifactKey, ...(prompt !== undefined ? { prompt } : {}) }, ctx), caller);
  }

  private async act(outcome: CommandOutcome, caller: WebCaller): Promise<WebReply> {
    switch (outcome.kind) {
      case 'message':
        return { kind: 'message', message: outcome.message, code: outcome.code };
      case 'job':
        return this.enqueue(outcome, caller);
      case 'cancel': {
        const answers = await Promise.all(outcome.jobIds.map((id) => this.deps.queue.cancel(id, caller.userId)));
        const refused = answers.find((a) => !a.ok);
        if (refused && !refused.ok && outcome.jobIds.length === 1) return { kind: 'message', message: refused.message, code: refused.reason };
        return { kind: 'cancelled', jobIds: outcome.jobIds.filter((_, i) => answers[i].ok), message: outcome.summary };
      }
      case 'delete': {
        const result = await this.deps.results.get(outcome.resultId);
        await this.deps.results.delete(outcome.resultId);
        await this.deps.gallery.remove(caller.userId, outcome.resultId);
        if (result) {
          const keys = [...result.images.map((i) => i.artifact.key), ...(result.grid ? [result.grid.key] : [])];
          await Promise.all(keys.map((k) => this.deps.artifacts.delete(k).catch(() => undefined)));
        }
        return { kind: 'deleted', resultId: outcome.resultId, message: outcome.summary };
      }
    }
  }

  private async enqueue(outcome: Extract<CommandOutcome, { kind: 'job' }>, caller: WebCaller): Promise<WebReply> {
    let queued;
    try {
      queued = await this.deps.queue.enqueue(outcome.payload, { dedupeId: outcome.dedupeId, ...(caller.clientKey ? { clientKey: caller.clientKey } : {}) });
    } catch (err) {
      if (err instanceof InvalidJobError) return { kind: 'message', message: err.userMessage, code: 'invalid' };
      throw err;
    }
    if (!queued.ok) return { kind: 'message', message: queued.message, code: queued.reason };
    this.deps.logger.info({ jobId: queued.jobId, kind: outcome.payload.kind, position: queued.position, duplicate: queued.duplicate }, 'web job queued');
    return {
      kind: 'queued',
      jobId: queued.jobId,
      position: queued.position,
      etaMs: queuedEtaMs(queued.position, (await this.deps.averageJobMs?.()) ?? null),
      duplicate: queued.duplicate,
      prompt: outcome.payload.params.prompt,
      summary: outcome.summary,
      warnings: outcome.warnings.map((w) => w.message),
      ...(outcome.payload.parentResultId ? { parentResultId: outcome.payload.parentResultId } : {}),
      rows: cancelButtons(queued.jobId),
    };
  }

  private async queueReport(userId: string): Promise<WebReply> {
    const [jobs, counts, averageMs] = await Promise.all([this.deps.queue.userJobs(userId), this.deps.queue.counts(), this.deps.averageJobMs?.() ?? null]);
    const mine = jobs.filter((j) => j.payload.origin.platform === 'web');
    return { kind: 'message', code: 'queue', message: describeQueue(mine, counts, (prompt) => `“${prompt.length > 60 ? `${prompt.slice(0, 60)}…` : prompt}”`, averageMs) };
  }
}
