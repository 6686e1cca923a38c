/**
 * The import graph of every .ts file in the repository, read with the TypeScript compiler's
 * own pre-processor (static imports, `export ... from`, `import type`, dynamic `import()`),
 * checked against the one rule of the layout: imports point down the flow
 *   adapters -> commands -> src core,   worker -> src core,
 * the composition root (src/root/) may import anything in the product and only entry points,
 * tests and benchmarks import it, the product never imports tests or benchmarks, and the
 * product's files load one another without cycles.
 */
import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../src/config.ts';

type Layer = 'root' | 'src' | 'commands' | 'adapters' | 'worker' | 'test' | 'bench' | 'other';

/** The product's layers and which others each may import (besides itself). */
const MAY_IMPORT: Record<Exclude<Layer, 'test' | 'bench' | 'other'>, readonly Layer[]> = {
  root: ['src', 'commands', 'adapters', 'worker'],
  adapters: ['commands', 'src'],
  commands: ['src'],
  worker: ['src'],
  src: [],
};

const SOURCE_FOLDERS = ['src', 'commands', 'adapters', 'worker', 'bench', 'test', 'kit'];

function layerOf(rel: string): Layer {
  if (rel.startsWith('src/root/')) return 'root';
  // kit/ holds the fixtures tests and benchmarks share: test code, which the product never imports
  if (rel.startsWith('kit/')) return 'test';
  const top = rel.split('/')[0];
  return (['src', 'commands', 'adapters', 'worker', 'test', 'bench'] as const).find((l) => l === top) ?? 'other';
}

function tsFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'node_modules' || entry.name === 'fixtures' ? [] : tsFiles(full);
    return entry.name.endsWith('.ts') ? [full] : [];
  });
}

/** A relative specifier as a repository path; bare specifiers (packages, node:) are not ours. */
function resolveSpecifier(from: string, specifier: string): string | null {
  if (!specifier.startsWith('.')) return null;
  const base = path.resolve(path.dirname(from), specifier);
  const found = [base, `${base}.ts`, path.join(base, 'index.ts')].find((f) => fs.existsSync(f) && fs.statSync(f).isFile());
  return path.relative(REPO_ROOT, found ?? base).split(path.sep).join('/');
}

interface ImportEdge {
  from: string;
  to: string;
  /** `import type` / `export type` (or every name marked `type`): erased when the code runs */
  typeOnly?: boolean;
  /** `import()`: loaded when called */
  dynamic?: boolean;
}

/** The module specifiers a file names: static imports and re-exports (with whether they are type-only) and dynamic import(). */
function specifiersOf(file: string): { specifier: string; typeOnly: boolean; dynamic?: boolean }[] {
  const source = ts.createSourceFile(file, fs.readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const found: { specifier: string; typeOnly: boolean; dynamic?: boolean }[] = [];
  const visit = (node: ts.Node) => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      const clause = node.importClause;
      const named = clause?.namedBindings && ts.isNamedImports(clause.namedBindings) ? clause.namedBindings.elements : undefined;
      const typeOnly = !!clause && (clause.isTypeOnly || (!clause.name && !!named && named.length > 0 && named.every((e) => e.isTypeOnly)));
      found.push({ specifier: node.moduleSpecifier.text, typeOnly });
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      const named = node.exportClause && ts.isNamedExports(node.exportClause) ? node.exportClause.elements : undefined;
      const typeOnly = node.isTypeOnly || (!!named && named.length > 0 && named.every((e) => e.isTypeOnly));
      found.push({ specifier: node.moduleSpecifier.text, typeOnly });
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword && node.arguments[0] && ts.isStringLiteral(node.arguments[0])) {
      found.push({ specifier: node.arguments[0].text, typeOnly: false, dynamic: true });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/** Every relative import of every .ts file under the given folders, as repository paths. */
function importGraph(root: string, folders: readonly string[] = SOURCE_FOLDERS): ImportEdge[] {
  const files = folders.filter((f) => fs.existsSync(path.join(root, f))).flatMap((f) => tsFiles(path.join(root, f)));
  return files.flatMap((file) => {
    const from = path.relative(root, file).split(path.sep).join('/');
    return specifiersOf(file).flatMap(({ specifier, typeOnly, dynamic }) => {
      const to = resolveSpecifier(file, specifier);
      return to && to.endsWith('.ts') ? [{ from, to, typeOnly, ...(dynamic ? { dynamic } : {}) }] : [];
    });
  });
}

/** The arrows that go against the flow, one line each: `from -> to (why)`. */
function arrowsAgainstTheFlow(edges: readonly ImportEdge[]): string[] {
  return edges.flatMap(({ from, to }) => {
    const a = layerOf(from);
    const b = layerOf(to);
    if (a === 'test' || a === 'bench' || a === 'other' || a === b) return [];
    if (b === 'test' || b === 'bench') return [`${from} -> ${to} (the product never imports tests or benchmarks)`];
    if (b === 'root') return [`${from} -> ${to} (only entry points, tests and benchmarks import the composition root)`];
    if (!MAY_IMPORT[a].includes(b)) return [`${from} -> ${to} (${a} may import ${[...MAY_IMPORT[a], a].join(', ')})`];
    return [];
  });
}

/**
 * One cycle per strongly connected component of the product's graph, as `a -> b -> ... -> a`.
 * Type-only imports are left out: they are erased before the code runs, so they order no
 * module loading (two types that name each other, like a model folder and its family, may).
 */
function importCycles(edges: readonly ImportEdge[]): string[] {
  const product = edges.filter((e) => !e.typeOnly && !['test', 'bench', 'other'].includes(layerOf(e.from)) && !['test', 'bench', 'other'].includes(layerOf(e.to)));
  const next = new Map<string, string[]>();
  for (const { from, to } of product) next.set(from, [...(next.get(from) ?? []), to]);
  // Tarjan's strongly connected components
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];
  const visit = (v: string) => {
    index.set(v, index.size);
    low.set(v, index.get(v)!);
    stack.push(v);
    onStack.add(v);
    for (const w of next.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1 || (next.get(v) ?? []).includes(v)) components.push(component);
    }
  };
  for (const v of [...next.keys()].sort()) if (!index.has(v)) visit(v);
  return components.map((component) => describeCycle(component, next));
}

/** A shortest way round a component from its first file back to it, by breadth-first search. */
function describeCycle(component: readonly string[], next: ReadonlyMap<string, readonly string[]>): string {
  const members = new Set(component);
  const start = [...component].sort()[0];
  const cameFrom = new Map<string, string>();
  const queue = [start];
  while (queue.length > 0) {
    const v = queue.shift()!;
    for (const w of next.get(v) ?? []) {
      if (!members.has(w)) continue;
      if (w === start) {
        const way = [start];
        for (let u = v; u !== start; u = cameFrom.get(u)!) way.unshift(u);
        way.unshift(start);
        return way.join(' -> ');
      }
      if (!cameFrom.has(w)) {
        cameFrom.set(w, v);
        queue.push(w);
      }
    }
  }
  return component.join(' -> ');
}

describe('the import graph', () => {
  const edges = importGraph(REPO_ROOT);

  it('reads the imports of every layer, static, type-only and dynamic', () => {
    const has = (from: string, to: string) => edges.some((e) => e.from === from && e.to === to);
    // a static import, a type-only import, a dynamic import() and a test's import
    expect(has('src/root/app.ts', 'worker/main.ts')).toBe(true);
    expect(has('test/deploy/import-flow.test.ts', 'src/config.ts')).toBe(true);
    // the kit the tests and benchmarks share is read as test code
    expect(has('kit/app-process.ts', 'kit/tiny-sd-models.ts')).toBe(true);
    expect(layerOf('kit/app-process.ts')).toBe('test');
    // a platform's Bolt or discord.js side is loaded only when the platform is configured
    expect(edges.some((e) => e.dynamic && e.to === 'adapters/slack/bot.ts')).toBe(true);
    expect(edges.filter((e) => e.from === 'worker/diffusion/families/types.ts' && e.to === 'worker/diffusion/model-folder.ts').map((e) => e.typeOnly)).toEqual([true]);
    for (const layer of ['root', 'src', 'commands', 'adapters', 'worker', 'test', 'bench'] as const) {
      expect(edges.some((e) => layerOf(e.from) === layer), layer).toBe(true);
    }
    // every relative import names a file that is there
    expect(edges.filter((e) => !fs.existsSync(path.join(REPO_ROOT, e.to)))).toEqual([]);
  });

  it('every arrow points down the flow: adapters -> commands -> src core, worker -> src core; only the root imports them all', () => {
    expect(arrowsAgainstTheFlow(edges)).toEqual([]);
  });

  it('the product loads without import cycles', () => {
    expect(importCycles(edges)).toEqual([]);
  });

  it('names an arrow against the flow and a cycle when there is one', () => {
    const wrong: ImportEdge[] = [
      { from: 'src/jobs.ts', to: 'worker/main.ts' },
      { from: 'worker/main.ts', to: 'adapters/web/deliver.ts' },
      { from: 'commands/imagine.ts', to: 'src/root/app.ts' },
      { from: 'adapters/web/start.ts', to: 'test/support/redis.ts' },
      { from: 'src/root/app.ts', to: 'adapters/web/start.ts' },
      { from: 'test/x.test.ts', to: 'src/root/app.ts' },
    ];
    expect(arrowsAgainstTheFlow(wrong)).toEqual([
      'src/jobs.ts -> worker/main.ts (src may import src)',
      'worker/main.ts -> adapters/web/deliver.ts (worker may import src, worker)',
      'commands/imagine.ts -> src/root/app.ts (only entry points, tests and benchmarks import the composition root)',
      'adapters/web/start.ts -> test/support/redis.ts (the product never imports tests or benchmarks)',
    ]);
    const cycle: ImportEdge[] = [
      { from: 'src/b.ts', to: 'src/c.ts' },
      { from: 'src/a.ts', to: 'src/b.ts' },
      { from: 'src/c.ts', to: 'src/a.ts' },
      { from: 'src/c.ts', to: 'src/d.ts' },
      { from: 'test/t.test.ts', to: 'src/a.ts' },
      { from: 'src/d.ts', to: 'src/e.ts' },
      { from: 'src/e.ts', to: 'src/d.ts', typeOnly: true },
    ];
    expect(importCycles(cycle)).toEqual(['src/a.ts -> src/b.ts -> src/c.ts -> src/a.ts']);
  });
});
