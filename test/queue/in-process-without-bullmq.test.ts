/**
 * The in-process queue is what `npm start` runs with no Redis: nothing it loads may import
 * BullMQ (or the BullMQ queue), so the one-process mode does not depend on the fleet's engine.
 * Walks the static imports from src/queue/local-queue.ts, type-only ones included.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { PRIORITY_LIMIT as BULLMQ_PRIORITY_LIMIT } from 'bullmq';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../src/config.ts';
import { PRIORITY_LIMIT } from '../../src/queue/fair-order.ts';

function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+'([^']+)'/g), ...text.matchAll(/import\(\s*'([^']+)'\s*\)/g)].map((m) => m[1]);
}

/** Every module reachable from `entry` by static imports: project files by path, packages by name. */
function reachable(entry: string): { files: Set<string>; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const visit = (file: string) => {
    if (files.has(file)) return;
    files.add(file);
    for (const spec of importsOf(file)) {
      if (spec.startsWith('.')) visit(path.resolve(path.dirname(file), spec));
      else packages.add(spec);
    }
  };
  visit(entry);
  return { files, packages };
}

describe('the in-process queue', () => {
  it('loads neither BullMQ nor the BullMQ queue', () => {
    const { files, packages } = reachable(path.join(REPO_ROOT, 'src/queue/local-queue.ts'));
    const rel = [...files].map((f) => path.relative(REPO_ROOT, f));
    // The walk did find the queue's own helpers (so an empty walk cannot pass).
    expect(rel).toEqual(expect.arrayContaining(['src/queue/local-queue.ts', 'src/queue/job-options.ts', 'src/queue/limits.ts', 'src/queue/types.ts']));
    expect(rel).not.toContain('src/queue/bullmq-queue.ts');
    expect([...packages].filter((p) => p === 'bullmq' || p.startsWith('bullmq/'))).toEqual([]);
  });

  it("takes turns within BullMQ's own priority range, written down rather than imported", () => {
    expect(PRIORITY_LIMIT).toBe(BULLMQ_PRIORITY_LIMIT);
  });
});
