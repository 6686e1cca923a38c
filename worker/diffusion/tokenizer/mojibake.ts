import { CP1252_HIGH } from './html-entities.ts';

// Repairs UTF-8 text that was decoded as Windows-1252 or Latin-1 on its way to us ("cafÃ©" for
// "café", "â€™" for "’", "Ð¿Ñ€Ð¸Ð²ÐµÑ‚" for "привет"). A candidate is a lead character
// (Â-ß, à-ï, ð-ô) followed by the right number of characters standing for bytes 0x80-0xBF,
// which together turn back into one well-formed UTF-8 character. Legitimate accented text
// rarely has that shape, and the rules below keep the few shapes it does have.

const CP1252_EXTRA = CP1252_HIGH.filter((cp) => cp > 0xff).map((cp) => String.fromCodePoint(cp)).join('');

// Characters standing for the bytes 0x80-0xBF: Latin-1's C1 controls and symbols, and the
// cp1252 punctuation that took the C1 controls' place.
const CONTINUATION = `[\\u0080-\\u00bf${CP1252_EXTRA}]`;
const SEQUENCE_SOURCE = `[\\u00c2-\\u00df]${CONTINUATION}|[\\u00e0-\\u00ef]${CONTINUATION}{2}|[\\u00f0-\\u00f4]${CONTINUATION}{3}`;

const BYTE_OF_CP1252_CHAR = new Map<string, number>(CP1252_HIGH.map((cp, i) => [String.fromCodePoint(cp), 0x80 + i]));

// A repair must give a real character. C1 controls are allowed: the next fixing step reads them
// as cp1252, which is what doubly mangled text needs ("Â€" -> U+0080 -> "€").
const IMPLAUSIBLE = /[\p{Cn}\p{Co}\p{Cs}]|(?![\u0080-\u009f])\p{Cc}/u;
const C1_CONTROL = /[\u0080-\u009f]/;
const LOWERCASE_LETTER = /\p{Ll}$/u;
const NBSP = '\u00a0';
// Ellipsis, closing quotes and guillemets, dashes, ™ ® ©, degree and superscripts.
const AFTER_A_WORD = '\u2026\u2019\u201d\u00bb\u203a\u2013\u2014\u2122\u00ae\u00a9\u00b0\u00b9\u00b2\u00b3';
const A_CIRCUMFLEX = '\u00c2';
const A_TILDE = '\u00c3';
const SHARP_S = '\u00df';

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

function singleByte(ch: string): number {
  return BYTE_OF_CP1252_CHAR.get(ch) ?? (ch.codePointAt(0) as number);
}

function redecode(sequence: string): string | undefined {
  // "ß" before punctuation is German ("Straße»"); the NKo letters it would decode to are not.
  if (sequence[0] === SHARP_S) return undefined;
  const bytes = Uint8Array.from(Array.from(sequence, singleByte));
  let decoded: string;
  try {
    decoded = strictUtf8.decode(bytes);
  } catch {
    return undefined; // overlong forms and encoded surrogates are not UTF-8
  }
  return IMPLAUSIBLE.test(decoded) ? undefined : decoded;
}

interface Candidate {
  start: number;
  end: number;
  fixed: string;
  /** Whether the shape alone is evidence enough; the others need another candidate beside them. */
  convincing: boolean;
}

// What ordinary text never writes: Â or Ã right before a symbol (these two leads carry all of
// Latin-1's accented letters, the bulk of real mojibake); a C1 control; a capital letter
// glued to the end of a lowercase word ("gdaÅ„sk"); a three- or four-byte shape, unless it holds
// a no-break space or only punctuation that can close a word ("voilà\u00a0«", "café…»"). What
// ordinary text can write, such as a capital before a guillemet ("«Ö»", "CAFÉ”"), counts only
// inside a run of candidates, as a mangled word is.
function isConvincing(text: string, start: number, sequence: string): boolean {
  if (sequence.length > 2) {
    const followers = Array.from(sequence.slice(1));
    return !followers.includes(NBSP) && !followers.every((ch) => AFTER_A_WORD.includes(ch));
  }
  return (
    sequence[0] === A_CIRCUMFLEX ||
    sequence[0] === A_TILDE ||
    C1_CONTROL.test(sequence[1]) ||
    LOWERCASE_LETTER.test(text.slice(Math.max(0, start - 2), start))
  );
}

function findCandidates(text: string): Candidate[] {
  const candidates: Candidate[] = [];
  const pattern = new RegExp(SEQUENCE_SOURCE, 'gu');
  for (let match = pattern.exec(text); match !== null; match = pattern.exec(text)) {
    const fixed = redecode(match[0]);
    if (fixed === undefined) {
      // The lead may have been legitimate; its followers can still start a real sequence.
      pattern.lastIndex = match.index + 1;
      continue;
    }
    const start = match.index;
    candidates.push({ start, end: start + match[0].length, fixed, convincing: isConvincing(text, start, match[0]) });
  }
  return candidates;
}

function nonAsciiOutside(text: string, candidates: readonly Candidate[]): number {
  let count = 0;
  let pos = 0;
  for (const { start, end } of [...candidates, { start: text.length, end: text.length }]) {
    for (let i = pos; i < start; i++) if (text.charCodeAt(i) > 0x7f) count++;
    pos = end;
  }
  return count;
}

// "à" is C3 A0, and A0 is a no-break space, which editors and forms like to turn into a plain
// space: "Ã\u00a0 la" arrives as "Ã  la". Legitimate "Ã " exists (Portuguese capitals: "IRMÃ E"),
// so this is restored only in text that shows other mojibake.
const A_GRAVE_LOST_NBSP = /\u00c3(?= )/g;

export function repairUtf8Mojibake(text: string): string {
  // Every candidate starts with a character from U+00C2-U+00F4.
  if (!/[\u00c2-\u00f4]/.test(text)) return text;
  const candidates = findCandidates(text);
  const evident = candidates.some((c) => c.convincing);
  // When every non-ASCII character belongs to a candidate and some are convincing, the whole
  // text went through the wrong decoding, weak-looking candidates included ("Å¾luÅ¥ouÄkÃ½").
  const wholeTextMangled = evident && nonAsciiOutside(text, candidates) === 0;
  const accepted = candidates.filter(
    ({ start, end, convincing }, i) =>
      convincing ||
      wholeTextMangled ||
      (i > 0 && candidates[i - 1].end === start) ||
      (i + 1 < candidates.length && candidates[i + 1].start === end),
  );
  if (accepted.length === 0) return text;
  const between = (part: string) => (evident ? part.replace(A_GRAVE_LOST_NBSP, '\u00e0') : part);
  let out = '';
  let copiedUpTo = 0;
  for (const { start, end, fixed } of accepted) {
    out += between(text.slice(copiedUpTo, start)) + fixed;
    copiedUpTo = end;
  }
  return out + between(text.slice(copiedUpTo));
}

// Stray C1 controls (U+0080-U+009F) are nearly always cp1252 bytes read as Latin-1.
export function replaceC1Controls(text: string): string {
  return text.replace(/[\u0080-\u009f]/g, (ch) => String.fromCodePoint(CP1252_HIGH[ch.charCodeAt(0) - 0x80]));
}
