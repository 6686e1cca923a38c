// Draws the README's before / after pairs of Zoom Out, Pan and Vary (Region) with the embedded
// model (models/tiny), the worker's edit layout and the product's diffusion pipeline, the same
// requests as test/diffusion/masked.test.ts, which measures eight seeds of each (here zoom seed 7,
// pan seed 2, region seed 8: ones without a second shape in the new area). The 64x64 pictures are saved
// enlarged 3x (nearest neighbour) so their pixels show:
//   npx tsx docs/images/edit-examples.ts
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { loadPipeline, type GenerateRequest } from '../../worker/diffusion/index.ts';
import { regionCanvas, zoomOrPanCanvas } from '../../worker/edit-layout.ts';
import { OUTPAINT_STRENGTH } from '../../worker/job-plan.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const ENLARGE = 3;
const source: GenerateRequest = { prompt: 'a red circle on a blue background', seed: 1, steps: 20, guidance: 2, width: 64, height: 64, n: 1, sampler: 'euler_a' };

const pipeline = await loadPipeline(path.join(here, '../../models/tiny'), { providers: ['cpu'] });
const save = async (name: string, png: Buffer) => {
  const { width, height } = await sharp(png).metadata();
  await sharp(png).resize(width! * ENLARGE, height! * ENLARGE, { kernel: 'nearest' }).png({ palette: true }).toFile(path.join(here, name));
  console.log(`docs/images/${name}`);
};

const before = (await pipeline.generate(source)).images[0].png;
await save('edit-source.png', before);

const zoom = await zoomOrPanCanvas({ type: 'zoom', factor: 2 }, before, { width: 64, height: 64 }, 64, 64);
await save('edit-zoom-out-2x.png', (await pipeline.generate({ ...source, seed: 7, inpaint: { ...zoom, strength: OUTPAINT_STRENGTH, label: 'Zoom out 2x' } })).images[0].png);

const pan = await zoomOrPanCanvas({ type: 'pan', direction: 'right' }, before, { width: 64, height: 64 }, 96, 64);
await save('edit-pan-right.png', (await pipeline.generate({ ...source, seed: 2, width: 96, inpaint: { ...pan, strength: OUTPAINT_STRENGTH, label: 'Pan right' } })).images[0].png);

// The region over the circle (its bounding box and 4 px), as the editor would send it.
const mask = await sharp({ create: { width: 64, height: 64, channels: 3, background: 'black' } })
  .composite([{ input: { create: { width: 26, height: 26, channels: 3, background: 'white' } }, left: 19, top: 19 }])
  .png()
  .toBuffer();
const region = await regionCanvas(before, mask, 64, 64);
const yellow = { ...source, prompt: 'a yellow circle on a blue background', seed: 8 };
await save('edit-region-mask.png', mask);
await save('edit-region-yellow.png', (await pipeline.generate({ ...yellow, inpaint: { ...region, label: 'Vary (Region)' } })).images[0].png);
await pipeline.dispose();
