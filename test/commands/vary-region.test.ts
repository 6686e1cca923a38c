/** Vary (Region): the inpainting job names its mask and keeps the size. */
import { describe, expect, it } from 'vitest';
import { varyRegion } from '../../commands/vary-region.ts';
import { context, storedResult } from '../support/command-context.ts';
import { job } from '../support/command-outcome.ts';

const single = () => storedResult({ imageCount: 1 });

describe('vary region', () => {
  it('names the mask and keeps the size', () => {
    expect(job(varyRegion({ result: single(), index: 0, maskArtifactKey: 'uploads/m1.png' }, context())).payload).toMatchObject({
      kind: 'edit',
      edit: { type: 'region', maskArtifactKey: 'uploads/m1.png' },
      params: { width: 512, height: 512 },
    });
  });
});
