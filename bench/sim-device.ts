/**
 * A simulated GPU that loads models, for the routing and fairness benches: the SimulatedDevice
 * (simulated-fleet.ts) behind a model loader. A model load holds the same device for `loadMs`
 * (a timer) and is counted, so a load and a job never overlap; each image holds it for `jobMs`.
 */
import type { ModelInfo } from '../src/models.ts';
import type { WorkerPipeline } from '../worker/job-runner.ts';
import type { PipelineLoader } from '../worker/model-residency.ts';
import { SimulatedDevice } from './simulated-fleet.ts';

export interface LoadingDevice {
  loader: PipelineLoader<WorkerPipeline>;
  /** Model loads this device made, by model name. */
  readonly loads: Map<string, number>;
}

export async function simulatedDevice(opts: { jobMs: number; loadMs: number }): Promise<LoadingDevice> {
  const device = await SimulatedDevice.create(opts.jobMs);
  const loads = new Map<string, number>();
  const loader = async (model: ModelInfo): Promise<WorkerPipeline> => {
    loads.set(model.name, (loads.get(model.name) ?? 0) + 1);
    await device.hold(opts.loadMs);
    return device;
  };
  return { loader, loads };
}
