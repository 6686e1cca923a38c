// GPT-2/CLIP byte-level BPE works on bytes, but its vocabulary is text: every byte is shown as
// one printable character. Printable Latin-1 bytes stand for themselves; the other 68 (controls,
// space, NBSP, soft hyphen) take U+0100 onwards in byte order, so "a cat" becomes "aĠcat".
function buildByteToUnicode(): string[] {
  const table: string[] = new Array(256);
  const printable = (b: number) => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  let next = 0x100;
  for (let b = 0; b < 256; b++) table[b] = String.fromCharCode(printable(b) ? b : next++);
  return table;
}

export const BYTE_TO_UNICODE: readonly string[] = buildByteToUnicode();
