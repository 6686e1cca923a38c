/**
 * `npm run bench`: runs every registered bench module, prints one table of figures and
 * writes them as JSON to bench/results/latest.json. Benches print; they assert nothing.
 *
 * To add one: create bench/<topic>-bench.ts exporting `run(): Promise<BenchFigure[]>` (bench/figure.ts)
 * and add it to BENCHES below. `npm run bench -- <topic>` runs only the named ones.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchFigure } from './figure.ts';

type BenchModule = { run(): Promise<BenchFigure[]> };

const BENCHES: Record<string, () => Promise<BenchModule>> = {
  pipeline: () => import('./pipeline-bench.ts'),
  queue: () => import('./queue-bench.ts'),
  ack: () => import('./ack-bench.ts'),
  random: () => import('./random-bench.ts'),
  scheduler: () => import('./scheduler-bench.ts'),
  sdxl: () => import('./sdxl-bench.ts'),
  'step-js': () => import('./step-js-bench.ts'),
  'device-busy': () => import('./device-busy-bench.ts'),
  'worker-scaling': () => import('./worker-scaling-bench.ts'),
  routing: () => import('./routing-bench.ts'),
  fairness: () => import('./fairness-bench.ts'),
};

function format(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  const abs = Math.abs(value);
  return abs >= 100 ? value.toFixed(0) : abs >= 10 ? value.toFixed(1) : abs >= 1 ? value.toFixed(2) : value.toFixed(3);
}

function table(rows: (BenchFigure & { bench: string })[]): string {
  const cells = rows.map((r) => [r.bench, r.name, format(r.value), r.unit, r.note ?? '']);
  const header = ['bench', 'figure', 'value', 'unit', 'note'];
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c: string[]) => c.map((v, i) => (i === 2 ? v.padStart(widths[i]) : v.padEnd(widths[i]))).join('  ').trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.map(line)].join('\n');
}

async function main(): Promise<void> {
  const only = process.argv.slice(2);
  const unknown = only.filter((n) => !(n in BENCHES));
  if (unknown.length > 0) throw new Error(`unknown bench(es) ${unknown.join(', ')}; known: ${Object.keys(BENCHES).join(', ')}`);
  const names = only.length > 0 ? only : Object.keys(BENCHES);
  const rows: (BenchFigure & { bench: string })[] = [];
  for (const name of names) {
    const started = performance.now();
    const mod = await BENCHES[name]();
    for (const figure of await mod.run()) rows.push({ bench: name, ...figure });
    console.error(`bench ${name}: ${((performance.now() - started) / 1000).toFixed(1)} s`);
  }
  console.log(table(rows));
  const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'results');
  fs.mkdirSync(dir, { recursive: true });
  const out = {
    date: new Date().toISOString(),
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    cpus: `${os.cpus().length} x ${os.cpus()[0]?.model ?? 'unknown'}`,
    figures: rows,
  };
  fs.writeFileSync(path.join(dir, 'latest.json'), JSON.stringify(out, null, 2) + '\n');
  console.log(`\nwritten to ${path.relative(process.cwd(), path.join(dir, 'latest.json'))}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
