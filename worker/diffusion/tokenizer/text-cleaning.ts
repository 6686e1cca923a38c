import { htmlUnescape, unescapeCompleteReferences } from './html-unescape.ts';
import { repairUtf8Mojibake, replaceC1Controls } from './mojibake.ts';

// The text clean-up CLIP applies before BPE (openai/CLIP simple_tokenizer: ftfy.fix_text,
// html.unescape twice, strip, whitespace folding, lower-case). The model was trained on ids
// of text cleaned this way, so a prompt typed with curly quotes or pasted from a web page
// must come out as the same ids as its plain-ASCII twin.

// Unicode White_Space: what the `regex` module's \s matches (JS's \s adds U+FEFF).
const WHITESPACE_RUN = /\p{White_Space}+/gu;
// Python's str.strip() also treats the information separators U+001C-U+001F as space.
const EDGE_SPACE = /^[\p{White_Space}\u001c-\u001f]+|[\p{White_Space}\u001c-\u001f]+$/gu;

// Typographic ligatures and the legacy digraph letters stand for plain letter pairs. (Not NFKC:
// that would also split ſt into s+t and rewrite far more than ligatures.)
const LIGATURE_LETTERS: ReadonlyMap<string, string> = new Map([
  ['\u0132', 'IJ'], ['\u0133', 'ij'], ['\u0149', '\u02bcn'],
  ['\u01c4', 'D\u017d'], ['\u01c5', 'D\u017e'], ['\u01c6', 'd\u017e'],
  ['\u01c7', 'LJ'], ['\u01c8', 'Lj'], ['\u01c9', 'lj'],
  ['\u01ca', 'NJ'], ['\u01cb', 'Nj'], ['\u01cc', 'nj'],
  ['\u01f1', 'DZ'], ['\u01f2', 'Dz'], ['\u01f3', 'dz'],
  ['\ufb00', 'ff'], ['\ufb01', 'fi'], ['\ufb02', 'fl'], ['\ufb03', 'ffi'], ['\ufb04', 'ffl'],
  ['\ufb05', '\u017ft'], ['\ufb06', 'st'],
]);
const LIGATURES = new RegExp(`[${[...LIGATURE_LETTERS.keys()].join('')}]`, 'g');
const WIDE_FORMS = /[\u3000\uff01-\uffef]/g;
const CURLY_SINGLE = /[\u02bc\u2018-\u201b]/g;
const CURLY_DOUBLE = /[\u201c-\u201f]/g;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
const TERMINAL_ESCAPE = /\u001b\[[\p{Nd};]*[a-zA-Z]/gu;
// Controls nobody means to type; tab, line feed, form feed and carriage return stay.
const CONTROL_CHARS = /[\u0000-\u0008\u000b\u000e-\u001f\u007f\u206a-\u206f\ufeff\ufff9-\ufffc]/g;

// Each pass can expose more to fix (an entity that was itself mojibake), so passes repeat
// until nothing changes; the bound only guards against a rule pair undoing each other.
const MAX_PASSES = 16;

function fixOnePass(text: string, unescapeHtml: boolean): string {
  let t = unescapeHtml ? unescapeCompleteReferences(text) : text;
  for (let i = 0; i < MAX_PASSES; i++) {
    const repaired = repairUtf8Mojibake(t);
    if (repaired === t) break;
    t = repaired;
  }
  t = replaceC1Controls(t);
  t = t.replace(LIGATURES, (ch) => LIGATURE_LETTERS.get(ch) as string);
  // Full-width Latin and half-width kana are presentation variants of ordinary characters.
  t = t.replace(WIDE_FORMS, (ch) => (ch === '\u3000' ? ' ' : ch.normalize('NFKC')));
  t = t.replace(CURLY_DOUBLE, '"').replace(CURLY_SINGLE, "'");
  t = t.replace(/\r\n?|[\u2028\u2029\u0085]/g, '\n');
  t = t.replace(LONE_SURROGATE, '\ufffd');
  t = t.replace(TERMINAL_ESCAPE, '');
  t = t.replace(CONTROL_CHARS, '');
  return t.normalize('NFC');
}

function fixLine(line: string, unescapeHtml: boolean): string {
  let text = line;
  for (let i = 0; i < MAX_PASSES; i++) {
    const fixed = fixOnePass(text, unescapeHtml);
    if (fixed === text) break;
    text = fixed;
  }
  return text;
}

/**
 * Repairs what real prompts suffer on their way to us: curly quotes, mojibake (UTF-8 read
 * as cp1252/Latin-1), HTML entities, CR/LF and unusual spaces, ligatures, full-width forms,
 * stray controls, and composes characters (NFC). It follows ftfy.fix_text's rules and order
 * where prompts meet them, not its full heuristics.
 */
export function fixText(text: string): string {
  // Lines are fixed one by one, and once a line shows a literal `<` the text is taken to be
  // markup: entities in it (and after it) are left for html.unescape to decide on.
  let unescapeHtml = true;
  let out = '';
  let pos = 0;
  while (pos < text.length) {
    const newline = text.indexOf('\n', pos);
    const end = newline === -1 ? text.length : newline + 1;
    const line = text.slice(pos, end);
    if (line.includes('<')) unescapeHtml = false;
    out += fixLine(line, unescapeHtml);
    pos = end;
  }
  return out;
}

export function stripPythonSpace(text: string): string {
  return text.replace(EDGE_SPACE, '');
}

/** The text CLIP's BPE runs on. */
export function cleanClipText(text: string): string {
  let t = stripPythonSpace(htmlUnescape(htmlUnescape(fixText(text))));
  t = stripPythonSpace(t.replace(WHITESPACE_RUN, ' '));
  return t.toLowerCase();
}
