import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FsArtifactStore, InvalidArtifactKeyError } from '../../src/artifacts-fs.ts';

let dir: string;
beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'artifacts-'));
});
afterEach(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

async function age(file: string, ms: number) {
  const t = new Date(Date.now() - ms);
  await fs.utimes(file, t, t);
}

describe('FsArtifactStore', () => {
  it('puts, gets and deletes by key, returning the ref', async () => {
    const store = new FsArtifactStore(dir);
    const bytes = Buffer.from([0x89, 0x50, 0x4e, 0x47, 1, 2, 3]);
    expect(await store.put('r_abc/0.png', bytes, 'image/png')).toEqual({ key: 'r_abc/0.png', bytes: 7, contentType: 'image/png' });
    expect(await store.get('r_abc/0.png')).toEqual(bytes);
    expect(await fs.readFile(path.join(dir, 'r_abc', '0.png'))).toEqual(bytes);
    expect(await store.get('r_abc/1.png')).toBeNull();
    await store.delete('r_abc/0.png');
    expect(await store.get('r_abc/0.png')).toBeNull();
    // The emptied result folder goes too, the root stays.
    expect(await fs.readdir(dir)).toEqual([]);
  });

  it('writes atomically: concurrent writers of one key leave one whole file and no temp files', async () => {
    const store = new FsArtifactStore(dir);
    const big = (fill: number) => Buffer.alloc(2 * 1024 * 1024, fill);
    await Promise.all([1, 2, 3, 4, 5, 6].map((fill) => store.put('r_x/grid.png', big(fill), 'image/png')));
    const got = (await store.get('r_x/grid.png'))!;
    expect(got.length).toBe(2 * 1024 * 1024);
    expect(new Set(got).size).toBe(1);
    expect(await fs.readdir(path.join(dir, 'r_x'))).toEqual(['grid.png']);
  });

  it('a reader during an overwrite sees the old or the new bytes, never a mix', async () => {
    const store = new FsArtifactStore(dir);
    await store.put('r_y/0.png', Buffer.alloc(1024 * 1024, 1), 'image/png');
    const reads: Buffer[] = [];
    let writing = true;
    const reader = (async () => {
      while (writing) reads.push((await store.get('r_y/0.png'))!);
    })();
    for (let i = 2; i < 8; i++) await store.put('r_y/0.png', Buffer.alloc(1024 * 1024, i), 'image/png');
    writing = false;
    await reader;
    expect(reads.length).toBeGreaterThan(0);
    for (const r of reads) {
      expect(r.length).toBe(1024 * 1024);
      expect(new Set(r).size).toBe(1);
    }
  });

  it('refuses keys that could escape the directory or collide with temp files', async () => {
    const store = new FsArtifactStore(dir);
    for (const key of ['../x.png', 'a/../../x', '/etc/passwd', 'a//b', '', '.tmp-abc', 'a/.tmp-1', 'a\\b', 'a/b/c/d/e']) {
      await expect(store.put(key, Buffer.from('x'), 'text/plain')).rejects.toBeInstanceOf(InvalidArtifactKeyError);
    }
  });

  it('sweep removes artifacts older than the age, their empty folders and stale temp files only', async () => {
    const store = new FsArtifactStore(dir);
    await store.put('r_old/0.png', Buffer.from('old'), 'image/png');
    await store.put('r_old/grid.png', Buffer.from('old'), 'image/png');
    await store.put('r_new/0.png', Buffer.from('new'), 'image/png');
    await store.put('r_mixed/0.png', Buffer.from('old'), 'image/png');
    await store.put('r_mixed/1.png', Buffer.from('new'), 'image/png');
    const day = 24 * 3600 * 1000;
    await age(path.join(dir, 'r_old/0.png'), 8 * day);
    await age(path.join(dir, 'r_old/grid.png'), 8 * day);
    await age(path.join(dir, 'r_mixed/0.png'), 8 * day);
    await fs.writeFile(path.join(dir, 'r_new', '.tmp-crashed'), 'partial');
    await age(path.join(dir, 'r_new', '.tmp-crashed'), 60 * 60 * 1000);
    await fs.writeFile(path.join(dir, 'r_new', '.tmp-inflight'), 'partial');

    expect(await store.sweep(7 * day)).toBe(3);
    expect((await fs.readdir(dir)).sort()).toEqual(['r_mixed', 'r_new']);
    expect(await fs.readdir(path.join(dir, 'r_mixed'))).toEqual(['1.png']);
    expect((await fs.readdir(path.join(dir, 'r_new'))).sort()).toEqual(['.tmp-inflight', '0.png']);
    expect(await store.get('r_new/0.png')).toEqual(Buffer.from('new'));
  });

  it('sweep of a directory that does not exist yet removes nothing', async () => {
    expect(await new FsArtifactStore(path.join(dir, 'absent')).sweep(1000)).toBe(0);
  });
});
