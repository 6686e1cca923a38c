/**
 * Model residency: each model is loaded at most once per process, on first use, and kept.
 * ONNX Runtime sessions leak native memory when created and released repeatedly, so a
 * process never unloads a model to make room; the recycle policy restarts the process instead.
 *
 * A failed load is not cached: the folder may be fixed (or finish copying) while the worker
 * runs, and the next job for that model simply tries again.
 */
import type { ModelCatalog, ModelInfo } from '../src/models.ts';
import { InvalidJobError } from '../src/jobs.ts';
import { ModelLoadError } from './errors.ts';

export interface ResidentPipeline {
  /** Execution provider(s) the sessions actually run on, e.g. ['cuda'] or ['cpu']. */
  readonly providers?: readonly string[];
  dispose?(): Promise<void>;
}

export type PipelineLoader<P> = (model: ModelInfo) => Promise<P>;

export interface ModelResidencyEvents<P> {
  onLoaded?(model: ModelInfo, pipeline: P, ms: number): void;
  onLoadFailed?(model: ModelInfo, err: unknown): void;
}

export class ModelResidency<P extends ResidentPipeline> {
  private readonly loading = new Map<string, Promise<P>>();
  private readonly ready = new Map<string, P>();
  private closed = false;

  constructor(
    readonly catalog: ModelCatalog,
    private readonly loader: PipelineLoader<P>,
    private readonly events: ModelResidencyEvents<P> = {},
  ) {}

  /** The catalog entry for a job's model name; an unknown name is a job that can never run here. */
  info(name: string): ModelInfo {
    const model = this.catalog.get(name);
    if (!model) {
      throw new InvalidJobError(
        `The model "${name}" is not available. Available: ${this.catalog.names().join(', ')}.`,
        `unknown model ${JSON.stringify(name)}`,
      );
    }
    return model;
  }

  async get(name: string): Promise<P> {
    if (this.closed) throw new Error('model residency is closed');
    const model = this.info(name);
    const resident = this.ready.get(model.name);
    if (resident) return resident;
    let pending = this.loading.get(model.name);
    if (!pending) {
      const t0 = performance.now();
      pending = this.loader(model).then(
        (pipeline) => {
          this.ready.set(model.name, pipeline);
          this.loading.delete(model.name);
          this.events.onLoaded?.(model, pipeline, performance.now() - t0);
          return pipeline;
        },
        (err: unknown) => {
          this.loading.delete(model.name);
          this.events.onLoadFailed?.(model, err);
          throw new ModelLoadError(model.name, err);
        },
      );
      this.loading.set(model.name, pending);
    }
    return pending;
  }

  isLoaded(name: string): boolean {
    const model = this.catalog.get(name);
    return !!model && this.ready.has(model.name);
  }

  /** Loaded or loading: what model routing prefers this worker's jobs for. */
  holds(name: string): boolean {
    const model = this.catalog.get(name);
    return !!model && (this.ready.has(model.name) || this.loading.has(model.name));
  }

  loadedNames(): string[] {
    return [...this.ready.keys()];
  }

  /** Release every session (process exit path only: see the module comment). */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.allSettled([...this.loading.values()]);
    const pipelines = [...this.ready.values()];
    this.ready.clear();
    await Promise.allSettled(pipelines.map((p) => p.dispose?.()));
  }
}
