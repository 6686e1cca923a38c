/** Remix, Custom Zoom and Vary (Region) presses and form submissions (commands/edit-forms.ts), platform apart. */
import { describe, expect, it } from 'vitest';
import { decodeFormId, editForm, pressStep, splitZoom, submitForm } from '../../commands/edit-forms.ts';
import { encodeAction } from '../../src/actions.ts';
import { context, storedResult } from '../support/command-context.ts';

const result = storedResult({ imageCount: 1 });
const remix = { action: 'remix', resultId: result.resultId, index: 0 } as const;
const zoom = { action: 'zoom-custom', resultId: result.resultId, index: 0 } as const;
const region = { action: 'vary-region', resultId: result.resultId, index: 0 } as const;

describe('edit forms', () => {
  it('a press opens the form prefilled with the prompt and its --no words; the form id is the button id', () => {
    const step = pressStep(remix, { result }, context(), 'msg-0');
    expect(step).toEqual({ kind: 'form', form: expect.objectContaining({ id: encodeAction(remix), action: 'remix', title: 'Remix', value: 'a lighthouse at dusk --no fog' }) });
    expect(pressStep(zoom, { result }, context(), 'msg-0')).toMatchObject({ kind: 'form', form: { id: encodeAction(zoom), value: 'a lighthouse at dusk --no fog --zoom 2' } });
    expect(pressStep(region, { result }, context(), 'msg-0')).toEqual({ kind: 'region-editor', resultId: result.resultId, index: 0 });
    // Every other button is decided elsewhere.
    expect(pressStep({ action: 'zoom-2', resultId: result.resultId, index: 0 }, { result }, context())).toBeNull();
    expect(decodeFormId(encodeAction(remix))).toEqual(remix);
    expect(decodeFormId(encodeAction(region))).toBeNull();
    expect(decodeFormId('im1:zz:x:0')).toBeNull();
  });

  it('a press is refused like any button: expired, someone else, another message', () => {
    expect(pressStep(remix, { result: null }, context())).toMatchObject({ kind: 'message', code: 'expired' });
    expect(pressStep(region, { result }, context({ origin: { userId: 'u2' } }))).toMatchObject({ kind: 'message', code: 'not-allowed' });
    expect(pressStep(zoom, { result }, context(), 'msg-9')).toMatchObject({ kind: 'message', code: 'wrong-message' });
  });

  it('Remix makes a strong variation with the submitted prompt', () => {
    const outcome = submitForm(remix, '  a lighthouse at dawn --no rain ', { result }, context(), 'msg-0');
    expect(outcome.kind).toBe('job');
    if (outcome.kind !== 'job') return;
    expect(outcome.payload).toMatchObject({ kind: 'variation', mode: 'strong', source: { resultId: result.resultId, index: 0 }, params: { prompt: 'a lighthouse at dawn', negativePrompt: 'rain' } });
    expect(outcome.summary).toMatch(/^Strong variation \(strength 0\.6\) \(remix\) of image 1/);
  });

  it('Custom Zoom reads --zoom from the prompt: the factor, a remix only when the prompt changed', () => {
    const same = submitForm(zoom, 'a lighthouse at dusk --no fog --zoom 1.5', { result }, context());
    expect(same.kind === 'job' && same.payload).toMatchObject({ kind: 'edit', edit: { type: 'zoom', factor: 1.5 }, params: { prompt: 'a lighthouse at dusk', negativePrompt: 'fog' } });
    expect(same.kind === 'job' && same.summary).toMatch(/^Zoom out 1\.5x of image 1/);
    const changed = submitForm(zoom, '--zoom 2 a lighthouse at night', { result }, context());
    expect(changed.kind === 'job' && changed.payload).toMatchObject({ edit: { type: 'zoom', factor: 2 }, params: { prompt: 'a lighthouse at night' } });
    expect(changed.kind === 'job' && changed.summary).toMatch(/^Zoom out 2x \(remix\)/);
    // Phones turn "--" into a dash.
    expect(splitZoom('a boat —zoom 1.2')).toEqual({ factor: '1.2', prompt: 'a boat' });
  });

  it('Custom Zoom refuses a missing, bad or doubled --zoom with a message that says what to type', () => {
    const refusal = (text: string) => {
      const outcome = submitForm(zoom, text, { result }, context());
      return outcome.kind === 'message' ? outcome.message : `not refused: ${outcome.kind}`;
    };
    expect(refusal('a lighthouse at dusk')).toBe('Custom Zoom needs --zoom and a number from 1.0 to 2.0 after the prompt, e.g. "a lighthouse at dusk --zoom 1.5".');
    expect(refusal('a lighthouse --zoom')).toBe('--zoom needs a number from 1.0 to 2.0, e.g. --zoom 1.5.');
    expect(refusal('a lighthouse --zoom lots')).toBe('Zoom needs a number from 1 to 2, e.g. 1.5.');
    expect(refusal('a lighthouse --zoom 0.5')).toBe('Zoom must be from 1 to 2.');
    expect(refusal('a lighthouse --zoom 1.5 --zoom 2')).toBe('--zoom is given twice; keep one.');
    // The result being gone matters more than the value.
    expect(submitForm(zoom, 'x --zoom 9', { result: null }, context())).toMatchObject({ code: 'expired' });
  });

  it('the Custom Zoom form tells the range; titles fit every platform (Slack: 24 characters)', () => {
    for (const ref of [remix, zoom]) {
      const form = editForm(ref, result, encodeAction(ref));
      expect(form.title.length).toBeLessThanOrEqual(24);
      expect(form.submit.length).toBeLessThanOrEqual(24);
    }
    expect(editForm(zoom, result, 'id').hint).toContain('--zoom 1.0 to 2.0');
  });
});
