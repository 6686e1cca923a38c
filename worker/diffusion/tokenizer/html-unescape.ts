import { CP1252_HIGH, NAMED_ENTITIES, SEMICOLON_OPTIONAL } from './html-entities.ts';

// Python's html.unescape, rule for rule: CLIP runs it twice over every prompt, so matching
// its quirks (references without `;`, longest-prefix names, remapped numeric references)
// is what keeps our token ids equal to the ones the text encoder was trained on.
const CHAR_REFERENCE = /&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)/gu;

// HTML5 drops these code points when a numeric reference names them.
function isDroppedCodePoint(cp: number): boolean {
  return (
    (cp >= 0x1 && cp <= 0x8) ||
    cp === 0xb ||
    (cp >= 0xe && cp <= 0x1f) ||
    (cp >= 0x7f && cp <= 0x9f) ||
    (cp >= 0xfdd0 && cp <= 0xfdef) ||
    (cp & 0xfffe) === 0xfffe
  );
}

export function decodeNumericReference(digits: string, hex: boolean): string {
  const num = parseInt(digits, hex ? 16 : 10);
  if (num === 0x00) return '\ufffd';
  if (num === 0x0d) return '\r';
  if (num >= 0x80 && num <= 0x9f) return String.fromCodePoint(CP1252_HIGH[num - 0x80]);
  if ((num >= 0xd800 && num <= 0xdfff) || num > 0x10ffff) return '\ufffd';
  if (isDroppedCodePoint(num)) return '';
  return String.fromCodePoint(num);
}

function lookupName(name: string): string | undefined {
  if (name.endsWith(';')) {
    const cp = NAMED_ENTITIES.get(name.slice(0, -1));
    return cp === undefined ? undefined : String.fromCodePoint(cp);
  }
  if (!SEMICOLON_OPTIONAL.has(name)) return undefined;
  return String.fromCodePoint(NAMED_ENTITIES.get(name) as number);
}

function replaceReference(ref: string): string {
  if (ref[0] === '#') {
    const hex = ref[1] === 'x' || ref[1] === 'X';
    const digits = ref.slice(hex ? 2 : 1).replace(/;$/, '');
    return decodeNumericReference(digits, hex);
  }
  const whole = lookupName(ref);
  if (whole !== undefined) return whole;
  // Longest known prefix wins, the rest stays literal (`&ampfoo` -> `&foo`).
  for (let end = ref.length - 1; end > 1; end--) {
    const prefix = lookupName(ref.slice(0, end));
    if (prefix !== undefined) return prefix + ref.slice(end);
  }
  return '&' + ref;
}

export function htmlUnescape(text: string): string {
  if (!text.includes('&')) return text;
  return text.replace(CHAR_REFERENCE, (_match, ref: string) => replaceReference(ref));
}

// The stricter unescaping a text fixer can afford to repeat: only complete references ending
// in `;`, and also names that were upper-cased along with the text around them (`&EACUTE;`).
const COMPLETE_REFERENCE = /&#?[0-9A-Za-z]{1,24};/g;

function strictReplacement(ref: string): string {
  const name = ref.slice(1, -1);
  const cp = NAMED_ENTITIES.get(name);
  if (cp !== undefined) return String.fromCodePoint(cp);
  if (ref.startsWith('&#')) {
    const decoded = htmlUnescape(ref);
    // A reference html.unescape could only partly read (`&#12ab;`) is left alone.
    return decoded.includes(';') ? ref : decoded;
  }
  const lower = name.toLowerCase();
  const lowerCp = name === name.toUpperCase() ? NAMED_ENTITIES.get(lower) : undefined;
  if (lowerCp !== undefined && htmlUnescape(ref) === ref) {
    return String.fromCodePoint(lowerCp).toUpperCase();
  }
  return ref;
}

export function unescapeCompleteReferences(text: string): string {
  if (!text.includes('&')) return text;
  return text.replace(COMPLETE_REFERENCE, strictReplacement);
}
