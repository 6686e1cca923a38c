import { describe, expect, it } from 'vitest';
import {
  actionLabel,
  decodeAction,
  encodeAction,
  failureActionRows,
  MAX_ACTION_ID_LENGTH,
  progressActionRows,
  resultActionRows,
  type ActionRef,
} from '../../src/actions.ts';
import { storedResult } from '../support/command-context.ts';

const LONGEST_ID = 'a'.repeat(80);

const refs: ActionRef[] = [
  ...[0, 1, 2, 3].flatMap((index) => [
    { action: 'upscale', resultId: 'res-1', index } as const,
    { action: 'variation', resultId: 'res-1', index } as const,
  ]),
  { action: 'vary-subtle', resultId: 'res-1', index: 0 },
  { action: 'vary-strong', resultId: 'r.2_x-Y', index: 0 },
  { action: 'reseed', resultId: 'res-1' },
  { action: 'delete', resultId: 'res-1' },
  { action: 'cancel', jobId: '12345' },
  { action: 'retry', jobId: 'job_9' },
  { action: 'upscale', resultId: LONGEST_ID, index: 3 },
  { action: 'retry', jobId: LONGEST_ID },
];

describe('action ids', () => {
  it.each(refs.map((r) => [encodeAction(r), r] as const))('%s round-trips', (id, ref) => {
    expect(decodeAction(id)).toEqual(ref);
  });

  it('has the documented shape and stays within Discord\'s 100 characters', () => {
    expect(encodeAction({ action: 'upscale', resultId: 'r_8f2k', index: 0 })).toBe('im1:u:r_8f2k:0');
    expect(encodeAction({ action: 'cancel', jobId: '42' })).toBe('im1:c:42');
    for (const ref of refs) expect(encodeAction(ref).length).toBeLessThanOrEqual(MAX_ACTION_ID_LENGTH);
    expect(encodeAction({ action: 'vary-strong', resultId: LONGEST_ID, index: 3 })).toHaveLength(88);
  });

  it('refuses ids it could not decode again', () => {
    expect(() => encodeAction({ action: 'reseed', resultId: 'a'.repeat(81) })).toThrow(RangeError);
    expect(() => encodeAction({ action: 'reseed', resultId: 'a:b' })).toThrow(RangeError);
    expect(() => encodeAction({ action: 'reseed', resultId: '' })).toThrow(RangeError);
    expect(() => encodeAction({ action: 'cancel', jobId: 'spa ce' })).toThrow(RangeError);
    expect(() => encodeAction({ action: 'upscale', resultId: 'r', index: 4 })).toThrow(RangeError);
    expect(() => encodeAction({ action: 'upscale', resultId: 'r', index: 1.5 })).toThrow(RangeError);
  });

  it.each([
    ['empty', ''],
    ['another app', 'my_button'],
    ['wrong version', 'im2:u:res-1:0'],
    ['unknown action code', 'im1:q:res-1:0'],
    ['index missing', 'im1:u:res-1'],
    ['index out of range', 'im1:u:res-1:4'],
    ['index not a digit', 'im1:v:res-1:x'],
    ['two-digit index', 'im1:v:res-1:01'],
    ['index on a whole-result action', 'im1:r:res-1:0'],
    ['index on a job action', 'im1:c:42:0'],
    ['extra part', 'im1:u:res-1:0:9'],
    ['empty target', 'im1:d::'],
    ['bad target characters', 'im1:d:<script>'],
    ['target too long', `im1:d:${'a'.repeat(81)}`],
    ['too long overall', `im1:d:${'a'.repeat(200)}`],
    ['upper-case code', 'im1:U:res-1:0'],
    ['trailing space', 'im1:d:res-1 '],
    ['unicode', 'im1:d:résultat'],
  ])('decodes %s to null', (_, id) => {
    expect(decodeAction(id)).toBeNull();
  });

  it('decodes non-strings to null', () => {
    for (const id of [undefined, null, 42, {}, ['im1:d:res-1']]) expect(decodeAction(id)).toBeNull();
  });

  it('labels', () => {
    expect(refs.slice(0, 8).map(actionLabel)).toEqual(['U1', 'V1', 'U2', 'V2', 'U3', 'V3', 'U4', 'V4']);
    expect(refs.slice(8, 14).map(actionLabel)).toEqual(['Vary (Subtle)', 'Vary (Strong)', '🔄', '✖', '✖', 'Retry']);
  });
});

describe('button rows', () => {
  const labels = (rows: ReturnType<typeof resultActionRows>) => rows.map((r) => r.map((b) => b.label));

  it('4 images: U1–U4, V1–V4, then 🔄 ✖', () => {
    const rows = resultActionRows(storedResult());
    expect(labels(rows)).toEqual([['U1', 'U2', 'U3', 'U4'], ['V1', 'V2', 'V3', 'V4'], ['🔄', '✖']]);
    expect(rows[0][2]).toEqual({ id: 'im1:u:res-1:2', label: 'U3', ref: { action: 'upscale', resultId: 'res-1', index: 2 }, style: 'secondary' });
    expect(rows[2][1]).toMatchObject({ id: 'im1:d:res-1', style: 'danger' });
  });

  it('2 images: two of each', () => {
    expect(labels(resultActionRows(storedResult({ imageCount: 2 })))).toEqual([['U1', 'U2'], ['V1', 'V2'], ['🔄', '✖']]);
  });

  it('1 image: U1, then 🔄 Vary (Subtle) Vary (Strong) ✖, the edits, and no V1 (it would do what Vary (Strong) does)', () => {
    const rows = resultActionRows(storedResult({ imageCount: 1 }));
    expect(labels(rows)).toEqual([
      ['U1'],
      ['🔄', 'Vary (Subtle)', 'Vary (Strong)', '✖'],
      ['Remix'],
      ['Zoom Out 2x', 'Zoom Out 1.5x', 'Custom Zoom'],
      ['⬅', '➡', '⬆', '⬇'],
    ]);
    expect(rows.slice(2).flat().map((b) => b.id)).toEqual(['im1:rx:res-1:0', 'im1:z2:res-1:0', 'im1:z15:res-1:0', 'im1:zc:res-1:0', 'im1:pl:res-1:0', 'im1:pr:res-1:0', 'im1:pu:res-1:0', 'im1:pd:res-1:0']);
    expect(rows[1].map((b) => b.id)).toEqual(['im1:r:res-1', 'im1:s:res-1:0', 'im1:x:res-1:0', 'im1:d:res-1']);
    expect(rows.flat().filter((b) => b.ref.action === 'variation')).toEqual([]);
  });

  it('an upscaled image gets no U buttons and no V1: the Vary pair and the edits', () => {
    expect(labels(resultActionRows(storedResult({ kind: 'upscale', imageCount: 1 })))).toEqual([
      ['🔄', 'Vary (Subtle)', 'Vary (Strong)', '✖'],
      ['Remix'],
      ['Zoom Out 2x', 'Zoom Out 1.5x', 'Custom Zoom'],
      ['⬅', '➡', '⬆', '⬇'],
    ]);
  });

  it('Vary (Region) only where its editor can be reached, and never past 5 rows of 5', () => {
    const rows = resultActionRows(storedResult({ imageCount: 1 }), { regionEditor: true });
    expect(labels(rows)[2]).toEqual(['Vary (Region)', 'Remix']);
    expect(rows[2][0].id).toBe('im1:vr:res-1:0');
    expect(rows.length).toBeLessThanOrEqual(5);
    for (const row of rows) expect(row.length).toBeLessThanOrEqual(5);
    expect(labels(resultActionRows(storedResult({ imageCount: 4 }), { regionEditor: true }))).toEqual([['U1', 'U2', 'U3', 'U4'], ['V1', 'V2', 'V3', 'V4'], ['🔄', '✖']]);
  });

  it('ids are unique within a message, fit platform limits and decode to their button', () => {
    for (const n of [1, 2, 3, 4]) {
      const buttons = resultActionRows(storedResult({ imageCount: n, resultId: 'r'.repeat(64) }), { regionEditor: true }).flat();
      expect(new Set(buttons.map((b) => b.id)).size).toBe(buttons.length);
      for (const b of buttons) {
        expect(b.id.length).toBeLessThanOrEqual(100);
        expect(decodeAction(b.id)).toEqual(b.ref);
      }
    }
  });

  it('progress and failure rows', () => {
    expect(progressActionRows('77')).toEqual([[{ id: 'im1:c:77', label: '✖', ref: { action: 'cancel', jobId: '77' }, style: 'danger' }]]);
    expect(failureActionRows('77')).toEqual([[{ id: 'im1:t:77', label: 'Retry', ref: { action: 'retry', jobId: '77' }, style: 'primary' }]]);
  });
});
