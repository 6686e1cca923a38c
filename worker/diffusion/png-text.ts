/**
 * PNG tEXt chunks, written and read by hand: sharp/libvips cannot attach an arbitrary
 * keyword (SD tools look for `parameters`), so the chunk is spliced in after IHDR.
 */
const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

export function crc32(data: Uint8Array, crc = 0xffffffff): number {
  let c = crc;
  for (let i = 0; i < data.length; i++) c = CRC_TABLE[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return c;
}

function chunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE((crc32(data, crc32(head.subarray(4))) ^ 0xffffffff) >>> 0, 0);
  return Buffer.concat([head, data, crc]);
}

interface Chunk {
  type: string;
  data: Buffer;
  start: number;
  end: number;
}

function* chunks(png: Buffer): Generator<Chunk> {
  if (png.length < 8 || !png.subarray(0, 8).equals(SIGNATURE)) throw new Error('not a PNG file (bad signature)');
  let pos = 8;
  while (pos + 12 <= png.length) {
    const len = png.readUInt32BE(pos);
    const type = png.toString('latin1', pos + 4, pos + 8);
    const end = pos + 12 + len;
    if (end > png.length) throw new Error(`truncated PNG: chunk ${type} runs past the end of the file`);
    yield { type, data: png.subarray(pos + 8, pos + 8 + len), start: pos, end };
    if (type === 'IEND') return;
    pos = end;
  }
}

/**
 * tEXt is Latin-1 by the PNG spec, but SD tools (A1111, ComfyUI) write and read UTF-8
 * bytes in it; prompts are often non-Latin, so UTF-8 it is, matching what they expect.
 */
export function addPngText(png: Buffer, keyword: string, text: string): Buffer {
  if (!/^[\x20-\x7e]{1,79}$/.test(keyword)) throw new Error(`invalid PNG text keyword: ${JSON.stringify(keyword)}`);
  const first = chunks(png).next();
  if (first.done || first.value.type !== 'IHDR') throw new Error('PNG does not start with IHDR');
  const payload = Buffer.concat([Buffer.from(keyword, 'latin1'), Buffer.from([0]), Buffer.from(text, 'utf8')]);
  const at = first.value.end;
  return Buffer.concat([png.subarray(0, at), chunk('tEXt', payload), png.subarray(at)]);
}

/** Every tEXt chunk as keyword -> text (the first one wins for a repeated keyword). */
export function readPngTexts(png: Buffer): Map<string, string> {
  const out = new Map<string, string>();
  for (const c of chunks(png)) {
    if (c.type !== 'tEXt') continue;
    const nul = c.data.indexOf(0);
    if (nul <= 0) continue;
    const key = c.data.toString('latin1', 0, nul);
    if (!out.has(key)) out.set(key, c.data.toString('utf8', nul + 1));
  }
  return out;
}
