/**
 * The default artifact store: a directory (ARTIFACT_DIR). A reader never sees a half-written
 * image because every write goes to a temporary file in the same directory and is renamed into
 * place (rename is atomic within one filesystem). Expiry is by file age, so a sweep needs no
 * index and works after any restart.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { ARTIFACT_KEY_PATTERN } from './artifact-key.ts';
import type { ArtifactStore } from './artifacts.ts';
import type { ArtifactRef } from './jobs.ts';

const TEMP_PREFIX = '.tmp-';
/** A temporary file older than this was left by a crashed writer. */
const STALE_TEMP_MS = 10 * 60 * 1000;


export class InvalidArtifactKeyError extends Error {
  constructor(key: string) {
    super(`invalid artifact key ${JSON.stringify(key.slice(0, 120))}: expected up to 4 segments of letters, digits, '.', '_' or '-', no '..'`);
    this.name = 'InvalidArtifactKeyError';
  }
}

export class FsArtifactStore implements ArtifactStore {
  /** Directories being created now: the files of one result are written together and share one mkdir. */
  private readonly creating = new Map<string, Promise<unknown>>();

  constructor(readonly dir: string) {}

  private makeDir(dir: string): Promise<unknown> {
    let made = this.creating.get(dir);
    if (!made) {
      made = fs.mkdir(dir, { recursive: true }).finally(() => this.creating.delete(dir));
      this.creating.set(dir, made);
    }
    return made;
  }

  private pathOf(key: string): string {
    if (!ARTIFACT_KEY_PATTERN.test(key) || key.split('/').some((s) => s === '.' || s === '..' || s.startsWith(TEMP_PREFIX))) {
      throw new InvalidArtifactKeyError(key);
    }
    return path.join(this.dir, ...key.split('/'));
  }

  async put(key: string, bytes: Buffer, contentType: string): Promise<ArtifactRef> {
    const target = this.pathOf(key);
    const dir = path.dirname(target);
    await this.makeDir(dir);
    const temp = path.join(dir, `${TEMP_PREFIX}${randomBytes(6).toString('hex')}`);
    try {
      await fs.writeFile(temp, bytes);
      await fs.rename(temp, target);
    } catch (err) {
      await fs.rm(temp, { force: true });
      throw err;
    }
    return { key, bytes: bytes.length, contentType };
  }

  async get(key: string): Promise<Buffer | null> {
    try {
      return await fs.readFile(this.pathOf(key));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
  }

  async delete(key: string): Promise<void> {
    const target = this.pathOf(key);
    await fs.rm(target, { force: true });
    await this.removeEmptyParents(path.dirname(target));
  }

  async sweep(maxAgeMs: number): Promise<number> {
    const cutoff = Date.now() - maxAgeMs;
    const staleTempCutoff = Date.now() - STALE_TEMP_MS;
    let removed = 0;
    const walk = async (dir: string): Promise<boolean> => {
      let entries;
      try {
        entries = await fs.readdir(dir, { withFileTypes: true });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return true;
        throw err;
      }
      let left = entries.length;
      for (const entry of entries) {
        const full = path.join(dir, entry.name);
        if (entry.isDirectory()) {
          if (await walk(full)) {
            await fs.rmdir(full).catch(() => undefined);
            left--;
          }
          continue;
        }
        const stat = await fs.stat(full).catch(() => null);
        if (!stat) {
          left--;
          continue;
        }
        const isTemp = entry.name.startsWith(TEMP_PREFIX);
        if (stat.mtimeMs < (isTemp ? staleTempCutoff : cutoff)) {
          await fs.rm(full, { force: true });
          left--;
          if (!isTemp) removed++;
        }
      }
      return left === 0;
    };
    await walk(this.dir);
    return removed;
  }

  private async removeEmptyParents(dir: string): Promise<void> {
    const root = path.resolve(this.dir);
    let current = path.resolve(dir);
    while (current !== root && current.startsWith(root + path.sep)) {
      try {
        await fs.rmdir(current);
      } catch {
        return; // not empty (or already gone): stop climbing
      }
      current = path.dirname(current);
    }
  }
}
