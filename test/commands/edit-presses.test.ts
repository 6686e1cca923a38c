/** Edit buttons pressed: zoom and pan start their jobs; the buttons that open a form wait for its answer. */
import { describe, expect, it } from 'vitest';
import { decideAction } from '../../commands/result-action.ts';
import { context, storedResult } from '../support/command-context.ts';
import { job } from '../support/command-outcome.ts';

const single = () => storedResult({ imageCount: 1 });

describe('edit button presses', () => {
  it('zoom and pan presses start their jobs; the buttons that open a form are refused until a form answers them', () => {
    const result = single();
    expect(job(decideAction({ action: 'zoom-1.5', resultId: 'res-1', index: 0 }, { result }, context())).payload).toMatchObject({ edit: { type: 'zoom', factor: 1.5 } });
    expect(job(decideAction({ action: 'pan-left', resultId: 'res-1', index: 0 }, { result }, context())).payload).toMatchObject({ edit: { type: 'pan', direction: 'left' }, params: { width: 768 } });
    for (const action of ['zoom-custom', 'vary-region', 'remix'] as const) {
      expect(decideAction({ action, resultId: 'res-1', index: 0 }, { result }, context())).toMatchObject({ kind: 'message', code: 'not-available' });
    }
  });
});
