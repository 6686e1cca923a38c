/**
 * The web playground in a real browser against the real process: `src/main.ts` with nothing
 * configured (no Redis, no tokens) serves the page; Chromium (Debian's, driven by
 * playwright-core) types an /imagine, waits for the grid, reads the pixels the browser drew,
 * presses V1 and 🔄, and saves a screenshot under test-artifacts/. A second process, on the
 * embedded model with a safety checker, shows a flagged picture blurred until clicked.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Locator, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EMBEDDED_MODEL_BUILT, modelEnv, startApp, REPO_ROOT, type AppProcess } from './support/app-process.ts';
import { embeddedModelWithChecker } from './support/checked-model.ts';
import { checkRgb, type RgbImage } from './support/tiny-model-check.ts';

const CHROMIUM = '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) console.warn(`SKIPPED: web browser test needs Chromium at ${CHROMIUM} (apt-get install chromium)`);

/** The embedded demo model draws the scenes its captions describe; without it the page is still tested, not the pixels. */
const haveEmbeddedModel = EMBEDDED_MODEL_BUILT;
if (!haveEmbeddedModel) console.warn('web browser test: models/tiny is not built, so the image colour check is SKIPPED (a stand-in model draws noise)');

const PROMPT = 'a red circle on a blue background';
// A fixed seed keeps the colour check deterministic (the demo model gets ~90% of tiles right, not all).
const TYPED = `/imagine ${PROMPT} --seed 7`;
const SCREENSHOT_DIR = path.join(REPO_ROOT, 'test-artifacts');

let app: AppProcess;
let context: BrowserContext;
let page: Page;
const temp = mkdtempSync(path.join(os.tmpdir(), 'web-browser-'));

beforeAll(async () => {
  if (!haveChromium) return;
  app = await startApp({ ARTIFACT_DIR: path.join(temp, 'artifacts'), PROGRESS_INTERVAL_MS: '100', ...modelEnv(temp) });
  context = await chromium.launchPersistentContext(path.join(temp, 'profile'), {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update'],
    viewport: { width: 1280, height: 900 },
  });
  page = context.pages()[0] ?? (await context.newPage());
}, 120_000);

afterAll(async () => {
  await context?.close();
  const code = await app?.stop('SIGTERM');
  rmSync(temp, { recursive: true, force: true });
  // A graceful stop: the process drains and exits 0 on SIGTERM.
  if (app) expect(code).toBe(0);
});

/** The pixels of an <img> as the browser decoded them. */
async function drawnPixels(img: Locator): Promise<RgbImage> {
  const { width, height, rgba } = await img.evaluate((el: HTMLImageElement) => {
    const canvas = document.createElement('canvas');
    canvas.width = el.naturalWidth;
    canvas.height = el.naturalHeight;
    const ctx = canvas.getContext('2d')!;
    ctx.drawImage(el, 0, 0);
    return { width: canvas.width, height: canvas.height, rgba: Array.from(ctx.getImageData(0, 0, canvas.width, canvas.height).data) };
  });
  const data = new Uint8Array(width * height * 3);
  for (let p = 0; p < width * height; p++) data.set(rgba.slice(4 * p, 4 * p + 3), 3 * p);
  return { width, height, data };
}

function tile(img: RgbImage, cols: number, rows: number, index: number): RgbImage {
  const w = img.width / cols;
  const h = img.height / rows;
  const x0 = (index % cols) * w;
  const y0 = Math.floor(index / cols) * h;
  const data = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) data.set(img.data.subarray(3 * ((y0 + y) * img.width + x0), 3 * ((y0 + y) * img.width + x0 + w)), 3 * y * w);
  return { width: w, height: h, data };
}

const seedsOf = async (card: Locator) => (await card.getAttribute('data-seeds'))!.split(',').map(Number);

async function waitLoaded(img: Locator): Promise<void> {
  await expect.poll(() => img.evaluate((el: HTMLImageElement) => el.complete && el.naturalWidth > 0), { timeout: 10_000 }).toBe(true);
}

describe.skipIf(!haveChromium)('web playground in Chromium', () => {
  it('/imagine shows the grid, V1 makes a variation, 🔄 a new seed', async () => {
    await page.goto(app.url);
    await expect.poll(() => page.locator('#connection').getAttribute('data-state')).toBe('live');

    await page.fill('#prompt', TYPED);
    await page.click('#send');
    await expect.poll(() => page.locator('.msg.user').last().textContent()).toBe(TYPED);

    const first = page.locator('article.result').first();
    await first.waitFor({ timeout: 90_000 });
    expect(await first.getAttribute('data-kind')).toBe('txt2img');
    const grid = first.locator('img.grid');
    await waitLoaded(grid);
    const pixels = await drawnPixels(grid);
    // 4 images of 64 px in a 2 × 2 grid.
    expect([pixels.width, pixels.height]).toEqual([128, 128]);
    const seeds = await seedsOf(first);
    expect(seeds).toHaveLength(4);
    expect(seeds.slice(1)).toEqual([seeds[0] + 1, seeds[0] + 2, seeds[0] + 3]);
    if (haveEmbeddedModel) {
      const checks = [0, 1, 2, 3].map((i) => checkRgb(tile(pixels, 2, 2, i), PROMPT));
      const colours = checks.filter((c) => c.backgroundOk && c.shapeColorOk).length;
      expect(colours, JSON.stringify(checks.map((c) => c.details))).toBeGreaterThanOrEqual(3);
    } else {
      // A stand-in model's noise is still an image: not one flat colour.
      const distinct = new Set<number>();
      for (let p = 0; p < pixels.width * pixels.height; p++) distinct.add((pixels.data[3 * p] << 16) | (pixels.data[3 * p + 1] << 8) | pixels.data[3 * p + 2]);
      expect(distinct.size).toBeGreaterThan(16);
    }
    const buttons = await first.locator('button[data-action-id]').allTextContents();
    expect(buttons).toEqual(['U1', 'U2', 'U3', 'U4', 'V1', 'V2', 'V3', 'V4', '🔄', '✖']);
    const command = await first.locator('pre.command').textContent();
    expect(command).toMatch(new RegExp(`^/imagine ${PROMPT} --ar 1:1 --seed ${seeds[0]} --steps \\d+ --cfg [\\d.]+ --n 4 --sampler \\w+ --model tiny$`));
    const firstId = (await first.getAttribute('data-result-id'))!;

    // V1: a variation of image 1.
    await first.locator('button', { hasText: /^V1$/ }).click();
    const variation = page.locator('article.result[data-kind="variation"]');
    await variation.waitFor({ timeout: 90_000 });
    expect(await variation.getAttribute('data-parent-result-id')).toBe(firstId);
    await waitLoaded(variation.locator('img.grid'));
    expect(await variation.locator('.summary').textContent()).toBe(`Variation · ${PROMPT}`);

    // 🔄: the same request with a new seed.
    await first.locator('button', { hasText: '🔄' }).click();
    const reseeded = page.locator(`article.result[data-kind="txt2img"][data-parent-result-id="${firstId}"]`);
    await reseeded.waitFor({ timeout: 90_000 });
    await waitLoaded(reseeded.locator('img.grid'));
    const newSeeds = await seedsOf(reseeded);
    expect(newSeeds).toHaveLength(4);
    expect(newSeeds[0]).not.toBe(seeds[0]);
    expect(await reseeded.locator('pre.command').textContent()).toContain(`--seed ${newSeeds[0]} `);

    // The gallery lists all three, newest first, each with its command to copy.
    await expect.poll(() => page.locator('#gallery li').count()).toBe(3);
    expect(await page.locator('#gallery li').first().getAttribute('data-result-id')).toBe(await reseeded.getAttribute('data-result-id'));

    mkdirSync(SCREENSHOT_DIR, { recursive: true });
    await page.screenshot({ path: path.join(SCREENSHOT_DIR, 'web-playground.png'), fullPage: true });
  }, 300_000);
});

describe.skipIf(!haveChromium || !haveEmbeddedModel)('web playground in Chromium, with a safety checker', () => {
  it('a flagged picture is blurred until it is clicked, and the click does not leave the page', async () => {
    // The embedded model plus a checker that flags bright pictures (support/checked-model.ts).
    const model = embeddedModelWithChecker();
    const checked = await startApp({ ARTIFACT_DIR: path.join(temp, 'artifacts-checked'), MODEL_DIR: model.dir, PORT: '0' });
    expect(checked.stdout()).toMatch(/model: +tiny \(.+, safety checker\)\n/);
    const tab = await context.newPage();
    try {
      await tab.goto(checked.url);
      await expect.poll(() => tab.locator('#connection').getAttribute('data-state')).toBe('live');
      const show = async (prompt: string) => {
        await tab.fill('#prompt', `/imagine ${prompt} --seed 3 --n 1`);
        await tab.click('#send');
        const card = tab.locator('article.result', { hasText: prompt });
        await card.waitFor({ timeout: 90_000 });
        await waitLoaded(card.locator('img.grid'));
        return card.locator('img.grid');
      };
      const blurOf = (img: Locator) => img.evaluate((el) => getComputedStyle(el).filter);

      const dark = await show('a red circle on a black background');
      expect(await blurOf(dark)).toBe('none');

      const bright = await show('a red circle on a white background');
      expect(await bright.getAttribute('class')).toContain('flagged');
      expect(await blurOf(bright)).toMatch(/^blur\(/);
      expect(await tab.locator('article.result', { hasText: 'white background' }).locator('.summary').textContent()).toContain('flagged by the safety checker');
      expect(await tab.locator('#gallery img.flagged').count()).toBe(1);
      await bright.click();
      expect(await blurOf(bright)).toBe('none');
      expect(tab.url()).toBe(`${checked.url}/`);
      expect(context.pages()).toHaveLength(2); // no new tab opened for the image either
    } finally {
      await tab.close();
      await checked.stop('SIGTERM');
      model.remove();
    }
  }, 180_000);
});
