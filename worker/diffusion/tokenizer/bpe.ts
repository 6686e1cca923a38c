// Applies BPE merges to one pre-tokenized word, exactly as openai/CLIP's simple_tokenizer
// does: repeatedly merge every occurrence (left to right) of the adjacent pair with the best
// rank until no adjacent pair has a rank.

export const END_OF_WORD = '</w>';

export class BpeMerges {
  // Keyed "left right": symbols never contain a space (byte 0x20 is shown as "Ġ").
  private readonly ranks = new Map<string, number>();

  constructor(merges: ReadonlyArray<readonly [string, string]>) {
    // A pair listed twice ends with its later rank, as in the dict CLIP builds from the file.
    merges.forEach(([left, right], rank) => this.ranks.set(`${left} ${right}`, rank));
  }

  get size(): number {
    return this.ranks.size;
  }

  /** `symbols`: the word's byte characters, the last one already carrying `</w>`. */
  apply(symbols: readonly string[]): string[] {
    let word = symbols.slice();
    while (word.length > 1) {
      let bestRank = Infinity;
      let left = '';
      let right = '';
      for (let i = 0; i + 1 < word.length; i++) {
        const rank = this.ranks.get(`${word[i]} ${word[i + 1]}`);
        if (rank !== undefined && rank < bestRank) {
          bestRank = rank;
          left = word[i];
          right = word[i + 1];
        }
      }
      if (bestRank === Infinity) break;
      const merged: string[] = [];
      for (let i = 0; i < word.length; ) {
        if (i + 1 < word.length && word[i] === left && word[i + 1] === right) {
          merged.push(left + right);
          i += 2;
        } else {
          merged.push(word[i]);
          i += 1;
        }
      }
      word = merged;
    }
    return word;
  }
}
