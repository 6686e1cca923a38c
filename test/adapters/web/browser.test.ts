/**
 * The web playground in a real browser against the real process: `src/root/main.ts` with nothing
 * configured (no Redis, no tokens) serves the page; Chromium (Debian's, driven by
 * playwright-core) types an /imagine, waits for the numbered tiles, reads the pixels the browser
 * drew, presses V1, 🔄 and U1, cancels a queued job, sends an empty /imagine, then opens the
 * same session at phone width (390 px), checking layout facts at both widths, and saves
 * screenshots under test-artifacts/. A second process, on the embedded model with a safety
 * checker, shows a flagged picture blurred until clicked.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Locator, type Page } from 'playwright-core';
import { CHROMIUM, CHROMIUM_OPTIONS, haveChromium } from '../../support/chromium.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EMBEDDED_MODEL_BUILT, modelEnv, startApp, REPO_ROOT, type AppProcess } from '../../../kit/app-process.ts';
import { embeddedModelWithChecker } from '../../support/checked-model.ts';
import { checkRgb, type RgbImage } from '../../support/tiny-model-check.ts';

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
  // MAX_STEPS above the default 50: the cancel test queues long jobs ahead of the one it cancels.
  app = await startApp({ ARTIFACT_DIR: path.join(temp, 'artifacts'), PROGRESS_INTERVAL_MS: '100', MAX_STEPS: '200', ...modelEnv(temp) });
  context = await chromium.launchPersistentContext(path.join(temp, 'profile'), {
    ...CHROMIUM_OPTIONS,
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

/** The heights of the buttons a user can see in `scope` (hidden ones have no box). */
const visibleButtonHeights = (scope: Locator) =>
  scope.locator('button').evaluateAll((els) => els.map((el) => el.getBoundingClientRect()).filter((r) => r.width > 0).map((r) => r.height));

/** What each result button shows: its text, or the name of the icon drawn instead. */
const buttonFaces = (card: Locator) => card.locator('button[data-action-id]').evaluateAll((els) => els.map((el) => (el as HTMLElement).dataset.icon ?? el.textContent));

/** The tile numbers, as shown, and the gaps between neighbouring tiles in a row. */
async function tileFacts(card: Locator) {
  const numbers = await card.locator('.tile-number').evaluateAll((els) => els.filter((el) => el.getBoundingClientRect().width > 0).map((el) => el.textContent));
  const boxes = await card.locator('.tile').evaluateAll((els) => els.map((el) => el.getBoundingClientRect()).map((r) => ({ x: r.x, y: r.y, right: r.right })));
  const gaps = boxes.slice(1).flatMap((b, i) => (b.y === boxes[i].y ? [b.x - boxes[i].right] : []));
  return { numbers, gaps };
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
    // 4 images of 64 px, each its own numbered tile, 2 × 2 with a gap between them.
    const tiles = first.locator('img.tile-image');
    expect(await tiles.count()).toBe(4);
    for (let i = 0; i < 4; i++) await waitLoaded(tiles.nth(i));
    const facts = await tileFacts(first);
    expect(facts.numbers).toEqual(['1', '2', '3', '4']);
    expect(facts.gaps).toHaveLength(2);
    for (const gap of facts.gaps) expect(gap).toBeGreaterThanOrEqual(4);
    const seeds = await seedsOf(first);
    expect(seeds).toHaveLength(4);
    expect(seeds.slice(1)).toEqual([seeds[0] + 1, seeds[0] + 2, seeds[0] + 3]);
    // The line under the tiles names the seeds once.
    expect(await first.locator('.seeds').textContent()).toMatch(new RegExp(`^64x64 · 4 images · seeds ${seeds.join(', ')} · \\d+ steps · `));
    expect((await first.locator('.seeds').textContent())!.match(/seed/g)).toHaveLength(1);
    const images = await Promise.all([0, 1, 2, 3].map((i) => drawnPixels(tiles.nth(i))));
    for (const image of images) expect([image.width, image.height]).toEqual([64, 64]);
    if (haveEmbeddedModel) {
      const checks = images.map((image) => checkRgb(image, PROMPT));
      const colours = checks.filter((c) => c.backgroundOk && c.shapeColorOk).length;
      expect(colours, JSON.stringify(checks.map((c) => c.details))).toBeGreaterThanOrEqual(3);
    } else {
      // A stand-in model's noise is still an image: not one flat colour.
      const distinct = new Set<number>();
      for (let p = 0; p < 64 * 64; p++) distinct.add((images[0].data[3 * p] << 16) | (images[0].data[3 * p + 1] << 8) | images[0].data[3 * p + 2]);
      expect(distinct.size).toBeGreaterThan(16);
    }
    // 🔄 is an inline SVG icon (no emoji font needed), named for screen readers.
    expect(await buttonFaces(first)).toEqual(['U1', 'U2', 'U3', 'U4', 'V1', 'V2', 'V3', 'V4', 'reseed', '✖']);
    const reseedButton = first.locator('button[data-icon="reseed"]');
    expect(await reseedButton.getAttribute('aria-label')).toBe('The same request with a new seed');
    expect(await reseedButton.locator('svg').evaluate((el) => el.getBoundingClientRect().width)).toBeGreaterThanOrEqual(16);
    // Touch targets: every button on the card is at least 44 px tall.
    const heights = await visibleButtonHeights(first);
    expect(heights.length).toBeGreaterThanOrEqual(11);
    for (const h of heights) expect(h).toBeGreaterThanOrEqual(44);
    expect(await page.locator('#gallery-pane').isVisible()).toBe(true);
    const command = await first.locator('pre.command').textContent();
    expect(command).toMatch(new RegExp(`^/imagine ${PROMPT} --ar 1:1 --seed ${seeds[0]} --steps \\d+ --cfg [\\d.]+ --n 4 --sampler \\w+ --model tiny$`));
    const firstId = (await first.getAttribute('data-result-id'))!;

    // V1: a variation of image 1.
    await first.locator('button', { hasText: /^V1$/ }).click();
    const variation = page.locator('article.result[data-kind="variation"]');
    await variation.waitFor({ timeout: 90_000 });
    expect(await variation.getAttribute('data-parent-result-id')).toBe(firstId);
    await waitLoaded(variation.locator('img.tile-image').first());
    expect(await variation.locator('.summary').textContent()).toBe(`Variation · ${PROMPT}`);

    // 🔄: the same request with a new seed.
    await reseedButton.click();
    const reseeded = page.locator(`article.result[data-kind="txt2img"][data-parent-result-id="${firstId}"]`);
    await reseeded.waitFor({ timeout: 90_000 });
    await waitLoaded(reseeded.locator('img.tile-image').first());
    const newSeeds = await seedsOf(reseeded);
    expect(newSeeds).toHaveLength(4);
    expect(newSeeds[0]).not.toBe(seeds[0]);
    expect(await reseeded.locator('pre.command').textContent()).toContain(`--seed ${newSeeds[0]} `);

    // The gallery lists all three, newest first, each with its command to copy.
    await expect.poll(() => page.locator('#gallery li').count()).toBe(3);
    expect(await page.locator('#gallery li').first().getAttribute('data-result-id')).toBe(await reseeded.getAttribute('data-result-id'));

    // U1: one 128x128 image, and the text says so (not the 64x64 it was made from); no V1 beside Vary (Strong).
    await first.locator('button', { hasText: /^U1$/ }).click();
    const upscaled = page.locator('article.result[data-kind="upscale"]');
    await upscaled.waitFor({ timeout: 90_000 });
    await waitLoaded(upscaled.locator('img.tile-image'));
    expect(await upscaled.locator('.seeds').textContent()).toMatch(new RegExp(`^128x128 · 1 image · seed ${seeds[0]} · `));
    expect(await upscaled.locator('.params dd').nth(2).textContent()).toBe('128×128');
    expect(await buttonFaces(upscaled)).toEqual(['reseed', 'Vary (Subtle)', 'Vary (Strong)', '✖', 'Vary (Region)', 'Remix', 'Zoom Out 2x', 'Zoom Out 1.5x', 'Custom Zoom', '⬅', '➡', '⬆', '⬇']);
    expect((await tileFacts(upscaled)).numbers).toEqual(['1']);

    mkdirSync(SCREENSHOT_DIR, { recursive: true });
    await page.screenshot({ path: path.join(SCREENSHOT_DIR, 'web-playground.png'), fullPage: true });
  }, 300_000);

  it('an empty /imagine gets a message; a cancelled job card shows its prompt and no progress bar', async () => {
    for (const typed of ['/imagine ', '']) {
      const before = await page.locator('.msg.bot').count();
      await page.fill('#prompt', typed);
      await page.click('#send');
      await expect.poll(() => page.locator('.msg.bot').count()).toBe(before + 1);
      expect(await page.locator('.msg.bot').last().textContent()).toContain('Nothing to draw yet: write a prompt after /imagine');
    }

    // Slow jobs; the last waits behind two of 200 steps (so it is still waiting when ✖ is pressed,
    // even on a loaded machine where a job finishes quickly and the next is taken while it is
    // stored: behind two of 50 steps it had once finished first), and ✖ cancels it.
    for (const [prompt, steps] of [['a slow green square', 200], ['a slow blue square', 200], ['a slow yellow square', 50]] as const) {
      await page.fill('#prompt', `/imagine ${prompt} --steps ${steps} --n 4`);
      await page.click('#send');
    }
    const card = page.locator('article.job', { hasText: 'a slow yellow square' });
    await card.waitFor({ timeout: 10_000 });
    // The card's headline is the prompt; the parameters are the line under it.
    expect(await card.locator('.summary').textContent()).toBe('a slow yellow square');
    expect(await card.locator('.details').textContent()).toMatch(/^64x64 · 4 images · seed \d+ · 50 steps · /);
    await card.locator('button[data-action-id]').click();
    await expect.poll(() => card.getAttribute('data-state'), { timeout: 30_000 }).toBe('cancelled');
    expect(await card.locator('.progress').isVisible()).toBe(false);
    expect(await card.locator('progress').evaluate((el) => el.getBoundingClientRect().height)).toBe(0);
  }, 120_000);

  it('at phone width (390 px) the gallery is a strip above the chat, tiles are numbered and buttons are 44 px', async () => {
    const phone = await context.newPage();
    try {
      await phone.setViewportSize({ width: 390, height: 844 });
      await phone.goto(app.url);
      await expect.poll(() => phone.locator('#connection').getAttribute('data-state')).toBe('live');
      await expect.poll(() => phone.locator('#gallery li').count()).toBeGreaterThanOrEqual(1);
      const pane = phone.locator('#gallery-pane');
      expect(await pane.isVisible()).toBe(true);
      const paneBox = (await pane.boundingBox())!;
      const logBox = (await phone.locator('#log').boundingBox())!;
      expect(paneBox.y + paneBox.height).toBeLessThanOrEqual(logBox.y + 1);
      expect(paneBox.width).toBeLessThanOrEqual(390);
      // A strip, not a second page: the chat keeps most of the screen.
      expect(paneBox.height).toBeLessThanOrEqual(844 / 4);
      const thumb = phone.locator('#gallery li img').first();
      expect(await thumb.isVisible()).toBe(true);

      // A thumbnail opens its result in the chat.
      await thumb.click();
      const card = phone.locator('article.result').first();
      await card.waitFor({ timeout: 10_000 });
      await waitLoaded(card.locator('img.tile-image').first());
      const facts = await tileFacts(card);
      expect(facts.numbers.length).toBeGreaterThanOrEqual(1);
      expect(facts.numbers).toEqual(facts.numbers.map((_, i) => String(i + 1)));
      for (const gap of facts.gaps) expect(gap).toBeGreaterThanOrEqual(4);
      const heights = await visibleButtonHeights(phone.locator('body'));
      expect(heights.length).toBeGreaterThanOrEqual(4);
      for (const h of heights) expect(h).toBeGreaterThanOrEqual(44);
      // Nothing wider than the screen.
      expect(await phone.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
      expect(await phone.locator('.tiles').first().evaluate((el) => el.getBoundingClientRect().right)).toBeLessThanOrEqual(390);

      mkdirSync(SCREENSHOT_DIR, { recursive: true });
      await phone.screenshot({ path: path.join(SCREENSHOT_DIR, 'web-playground-phone.png') });
    } finally {
      await phone.close();
    }
  }, 60_000);
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
        await waitLoaded(card.locator('img.tile-image'));
        return card.locator('img.tile-image');
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
