/** "Did you mean …?" for mistyped flags, samplers and model names. */

/** Optimal string alignment distance: Levenshtein plus adjacent swaps ("sede" -> "seed" is 1). */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[][] = Array.from({ length: rows }, (_, i) => Array.from({ length: cols }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[rows - 1][cols - 1];
}

/**
 * The candidate the word begins, else the closest one, or undefined when nothing is close enough to be a plausible typo
 * (at most 2 edits, or half the word for long words). Ties go to the earlier candidate.
 */
export function nearest(word: string, candidates: readonly string[]): string | undefined {
  const w = word.toLowerCase();
  // A cut-short word ("dpm", "str") means the shortest candidate it begins.
  const extended = candidates.filter((c) => w.length >= 2 && c.toLowerCase().startsWith(w));
  if (extended.length > 0) return extended.reduce((a, b) => (b.length < a.length ? b : a));
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const distance = editDistance(w, candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  const allowed = Math.max(2, Math.floor(w.length / 2));
  return bestDistance <= allowed && bestDistance < w.length ? best : undefined;
}
