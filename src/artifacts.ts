/**
 * Where result images live. Small on purpose: put/get/delete/sweep, so an S3-compatible
 * backend can be added without touching callers. The default is a directory (ARTIFACT_DIR).
 */
import type { ArtifactRef } from './jobs.ts';

export interface ArtifactStore {
  put(key: string, bytes: Buffer, contentType: string): Promise<ArtifactRef>;
  /** null when absent or expired. */
  get(key: string): Promise<Buffer | null>;
  delete(key: string): Promise<void>;
  /** Remove everything older than maxAgeMs; returns how many artifacts were removed. */
  sweep(maxAgeMs: number): Promise<number>;
}
