import sharp from 'sharp';
const files = process.argv.slice(3);
const metas = await Promise.all(files.map((f) => sharp(f).metadata()));
const S = 4; let x = 0; const comp = [];
for (let i = 0; i < files.length; i++) { comp.push({ input: await sharp(files[i]).resize(metas[i].width * S, metas[i].height * S, { kernel: 'nearest' }).toBuffer(), left: x, top: 0 }); x += metas[i].width * S + 20; }
await sharp({ create: { width: x, height: 96 * S, channels: 3, background: 'white' } }).composite(comp).png().toFile(process.argv[2]);
