/**
 * The region editor and the inline Remix / Custom Zoom forms in a real browser against the real
 * one-process app (`src/root/main.ts`, nothing configured, the embedded model): Chromium (Debian's,
 * driven by playwright-core) makes a single image, opens Vary (Region), draws a rectangle and a
 * freehand stroke with the mouse, changes the prompt and sends; the mask the server stored has
 * exactly those pixels white, and the edited result appears like any other, its pixels outside
 * the region those of the source. Remix and Custom Zoom are sent from their inline forms (a bad
 * --zoom answered in the form). At phone width (390 px, touch) the editor fits the screen and a
 * finger drag draws the region.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import type { Browser, Locator, Page } from 'playwright-core';
import { CHROMIUM, haveChromium, launchChromium } from '../../support/chromium.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EMBEDDED_MODEL_BUILT, modelEnv, REPO_ROOT, startApp, type AppProcess } from '../../../kit/app-process.ts';

if (!haveChromium) console.warn(`SKIPPED: region editor browser test needs Chromium at ${CHROMIUM}`);

const PROMPT = 'a red circle on a blue background';
const REMIX = 'a yellow circle on a blue background';
const SCREENSHOT_DIR = path.join(REPO_ROOT, 'test-artifacts');

let app: AppProcess;
let browser: Browser;
const temp = mkdtempSync(path.join(os.tmpdir(), 'web-editor-'));
const artifacts = path.join(temp, 'artifacts');

beforeAll(async () => {
  if (!haveChromium) return;
  app = await startApp({ ARTIFACT_DIR: artifacts, PROGRESS_INTERVAL_MS: '100', LIMIT_USER_PER_MINUTE: '100', ...modelEnv(temp) });
  browser = await launchChromium();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  const code = await app?.stop('SIGTERM');
  rmSync(temp, { recursive: true, force: true });
  if (app) expect(code).toBe(0);
});

/** The masks the server stored, newest last. */
const storedMasks = () =>
  existsSync(path.join(artifacts, 'masks'))
    ? readdirSync(path.join(artifacts, 'masks'))
        .filter((f) => f.endsWith('.png'))
        .sort()
        .map((f) => path.join(artifacts, 'masks', f))
    : [];

async function greyPixels(file: string): Promise<{ width: number; height: number; at(x: number, y: number): number }> {
  const { data, info } = await sharp(readFileSync(file)).greyscale().raw().toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, at: (x, y) => data[y * info.width + x] };
}

/** The RGB pixels of an <img> as the browser decoded them. */
async function pixels(img: Locator): Promise<{ width: number; height: number; rgb: number[] }> {
  await expect.poll(() => img.evaluate((el: HTMLImageElement) => el.complete && el.naturalWidth > 0), { timeout: 10_000 }).toBe(true);
  return img.evaluate((el: HTMLImageElement) => {
    const canvas = document.createElement('canvas');
    canvas.width = el.naturalWidth;
    canvas.height = el.naturalHeight;
    const ctx = canvas.getContext('2d')!;
    ctx.drawImage(el, 0, 0);
    const rgba = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
    const rgb: number[] = [];
    for (let i = 0; i < rgba.length; i += 4) rgb.push(rgba[i], rgba[i + 1], rgba[i + 2]);
    return { width: canvas.width, height: canvas.height, rgb };
  });
}

async function imagine(page: Page, prompt: string): Promise<Locator> {
  await page.goto(app.url);
  await expect.poll(() => page.locator('#connection').getAttribute('data-state')).toBe('live');
  await page.fill('#prompt', `/imagine ${prompt} --n 1 --seed 7`);
  await page.click('#send');
  const latest = page.locator('article.result').last();
  await latest.waitFor({ timeout: 90_000 });
  // Pinned to this result: later results are appended after it.
  return page.locator(`article.result[data-result-id="${await latest.getAttribute('data-result-id')}"]`);
}

/** The page's point for canvas pixel (x, y) of a 64x64 image, wherever the canvas is drawn. */
async function pointOn(canvas: Locator, x: number, y: number): Promise<{ x: number; y: number }> {
  const box = (await canvas.boundingBox())!;
  return { x: box.x + ((x + 0.5) * box.width) / 64, y: box.y + ((y + 0.5) * box.height) / 64 };
}

describe.skipIf(!haveChromium)('region editor and edit forms in Chromium', () => {
  it('Vary (Region): draw a rectangle and a stroke, change the prompt, send; the mask is stored as drawn and the result appears', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    try {
      const source = await imagine(page, PROMPT);
      const before = await pixels(source.locator('img.tile-image'));
      const resultsBefore = await page.locator('article.result').count();

      await source.locator('button', { hasText: 'Vary (Region)' }).click();
      const dialog = page.locator('dialog.region-dialog');
      await dialog.waitFor();
      const canvas = dialog.locator('canvas.editor-overlay');
      expect(await canvas.evaluate((el: HTMLCanvasElement) => [el.width, el.height])).toEqual([64, 64]);
      expect(await dialog.locator('textarea.editor-prompt').inputValue()).toBe(PROMPT);
      // Nothing drawn yet: the editor says so and sends nothing.
      await dialog.locator('button.editor-submit').click();
      expect(await dialog.locator('.editor-status').textContent()).toBe('Draw the region to repaint first.');

      // A rectangle over pixels 16..47 of both sides.
      let p = await pointOn(canvas, 16, 16);
      await page.mouse.move(p.x, p.y);
      await page.mouse.down();
      p = await pointOn(canvas, 40, 40);
      await page.mouse.move(p.x, p.y, { steps: 5 });
      p = await pointOn(canvas, 47, 47);
      await page.mouse.move(p.x, p.y, { steps: 5 });
      await page.mouse.up();
      // A freehand stroke along row 4, from x 8 to 56.
      await dialog.locator('button[data-tool="free"]').click();
      p = await pointOn(canvas, 8, 4);
      await page.mouse.move(p.x, p.y);
      await page.mouse.down();
      p = await pointOn(canvas, 56, 4);
      await page.mouse.move(p.x, p.y, { steps: 12 });
      await page.mouse.up();
      expect(await dialog.locator('form.editor').getAttribute('data-drawn')).toBe('true');

      await dialog.locator('textarea.editor-prompt').fill(REMIX);
      mkdirSync(SCREENSHOT_DIR, { recursive: true });
      await page.screenshot({ path: path.join(SCREENSHOT_DIR, 'web-region-editor.png') });
      const masksBefore = storedMasks().length;
      await dialog.locator('button.editor-submit').click();
      await expect.poll(() => page.locator('dialog.region-dialog').count()).toBe(0);

      // The mask as stored: the rectangle and the stroke white, the rest black.
      await expect.poll(() => storedMasks().length).toBe(masksBefore + 1);
      const mask = await greyPixels(storedMasks().at(-1)!);
      expect([mask.width, mask.height]).toEqual([64, 64]);
      expect([mask.at(16, 16), mask.at(47, 47), mask.at(32, 32), mask.at(8, 4), mask.at(32, 4), mask.at(55, 4)]).toEqual([255, 255, 255, 255, 255, 255]);
      expect([mask.at(14, 30), mask.at(50, 30), mask.at(32, 14), mask.at(32, 12), mask.at(0, 63), mask.at(63, 63), mask.at(2, 4), mask.at(62, 4)]).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);

      // The result shows like any other: an edited card with the new prompt.
      const edited = page.locator('article.result').nth(resultsBefore);
      await edited.waitFor({ timeout: 90_000 });
      expect(await edited.getAttribute('data-kind')).toBe('edit');
      expect(await edited.locator('.summary').textContent()).toBe(`Edited · ${REMIX}`);
      const after = await pixels(edited.locator('img.tile-image'));
      expect([after.width, after.height]).toEqual([64, 64]);
      if (EMBEDDED_MODEL_BUILT) {
        // Far from the drawn area (beyond the feather), the source's pixels stay; inside, the picture changed.
        const diff = (x: number, y: number) => Math.max(...[0, 1, 2].map((c) => Math.abs(after.rgb[3 * (y * 64 + x) + c] - before.rgb[3 * (y * 64 + x) + c])));
        for (const [x, y] of [[0, 63], [63, 63], [0, 30], [63, 30], [30, 63]]) expect(diff(x, y), `pixel ${x},${y}`).toBeLessThanOrEqual(2);
        let changed = 0;
        for (let y = 20; y < 44; y++) for (let x = 20; x < 44; x++) if (diff(x, y) > 24) changed++;
        expect(changed).toBeGreaterThan(24 * 24 * 0.25);
      }
    } finally {
      await page.close();
    }
  }, 180_000);

  it('Remix and Custom Zoom from their inline forms; a bad --zoom is answered in the form', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    try {
      const source = await imagine(page, PROMPT);
      const count = await page.locator('article.result').count();
      await source.locator('button', { hasText: 'Remix' }).click();
      const remix = source.locator('form.inline-form[data-action="remix"]');
      expect(await remix.locator('textarea').inputValue()).toBe(PROMPT);
      await remix.locator('textarea').fill(REMIX);
      await remix.locator('button[type="submit"]').click();
      const varied = page.locator('article.result').nth(count);
      await varied.waitFor({ timeout: 90_000 });
      expect(await varied.getAttribute('data-kind')).toBe('variation');
      expect(await varied.locator('.summary').textContent()).toBe(`Variation · ${REMIX}`);

      await source.locator('button', { hasText: 'Custom Zoom' }).click();
      const zoom = source.locator('form.inline-form[data-action="zoom-custom"]');
      expect(await zoom.locator('textarea').inputValue()).toBe(`${PROMPT} --zoom 2`);
      await zoom.locator('textarea').fill(`${PROMPT} --zoom 2.5`);
      await zoom.locator('button[type="submit"]').click();
      await expect.poll(() => zoom.locator('.error').textContent()).toBe('Zoom must be from 1 to 2.');
      await zoom.locator('textarea').fill(`${PROMPT} --zoom 1.5`);
      await zoom.locator('button[type="submit"]').click();
      const zoomed = page.locator('article.result').nth(count + 1);
      await zoomed.waitFor({ timeout: 90_000 });
      expect(await zoomed.getAttribute('data-kind')).toBe('edit');
      expect(await zoomed.locator('.seeds').textContent()).toMatch(/^64x64 · 1 image/);
    } finally {
      await page.close();
    }
  }, 180_000);

  it('at phone width (390 px, touch) the editor fits the screen and a finger drag draws the region', async () => {
    const context = await browser.newContext({ viewport: { width: 390, height: 844 }, hasTouch: true, isMobile: true, deviceScaleFactor: 2 });
    const page = await context.newPage();
    try {
      const source = await imagine(page, PROMPT);
      const count = await page.locator('article.result').count();
      await source.locator('button', { hasText: 'Vary (Region)' }).click();
      const dialog = page.locator('dialog.region-dialog');
      await dialog.waitFor();
      const canvas = dialog.locator('canvas.editor-overlay');
      const box = (await canvas.boundingBox())!;
      // Wide enough to draw on, and nothing past the screen's edge.
      expect(box.width).toBeGreaterThanOrEqual(250);
      expect(box.x).toBeGreaterThanOrEqual(0);
      expect(box.x + box.width).toBeLessThanOrEqual(390);
      expect((await dialog.boundingBox())!.width).toBeLessThanOrEqual(390);
      for (const b of await dialog.locator('button').all()) expect((await b.boundingBox())!.height).toBeGreaterThanOrEqual(44);

      // A finger: a touch drag from (8, 8) to (24, 24), dispatched as the touchscreen sends it.
      const cdp = await context.newCDPSession(page);
      const start = await pointOn(canvas, 8, 8);
      const end = await pointOn(canvas, 24, 24);
      await cdp.send('Input.dispatchTouchEvent', { type: 'touchStart', touchPoints: [{ x: start.x, y: start.y }] });
      for (let i = 1; i <= 8; i++) await cdp.send('Input.dispatchTouchEvent', { type: 'touchMove', touchPoints: [{ x: start.x + ((end.x - start.x) * i) / 8, y: start.y + ((end.y - start.y) * i) / 8 }] });
      await cdp.send('Input.dispatchTouchEvent', { type: 'touchEnd', touchPoints: [] });
      expect(await dialog.locator('form.editor').getAttribute('data-drawn')).toBe('true');
      mkdirSync(SCREENSHOT_DIR, { recursive: true });
      await page.screenshot({ path: path.join(SCREENSHOT_DIR, 'web-region-editor-phone.png') });

      const masksBefore = storedMasks().length;
      // The finger lifts, the page paints the drawn region, then the finger taps Send: a tap that
      // reaches Chromium within the same frames as the stroke's end is sometimes taken as part of
      // that gesture and gives no click (2 runs in 17 of this file, and once in CI); no finger is that fast.
      await page.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve))));
      await dialog.locator('button.editor-submit').tap();
      await expect.poll(() => storedMasks().length).toBe(masksBefore + 1);
      const mask = await greyPixels(storedMasks().at(-1)!);
      expect([mask.at(8, 8), mask.at(16, 16), mask.at(24, 24)]).toEqual([255, 255, 255]);
      expect([mask.at(30, 30), mask.at(60, 4), mask.at(4, 60)]).toEqual([0, 0, 0]);
      const edited = page.locator('article.result').nth(count);
      await edited.waitFor({ timeout: 90_000 });
      expect(await edited.getAttribute('data-kind')).toBe('edit');
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    } finally {
      await context.close();
    }
  }, 180_000);
});
