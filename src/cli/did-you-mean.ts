// CLI typos: the closest known word to what was typed, when it is close enough to be a likely slip.

/** The candidate within edit distance 2 (or a prefix match) closest to `typed`; undefined if none. */
export function didYouMean(typed: string, candidates: Iterable<string>): string | undefined {
  let best: { word: string; distance: number } | undefined;
  for (const word of candidates) {
    const distance = word.startsWith(typed) && typed.length >= 3 ? 1 : editDistance(typed, word);
    if (
      distance <= Math.min(2, Math.max(1, Math.floor(word.length / 3))) &&
      (!best || distance < best.distance)
    )
      best = { word, distance };
  }
  return best?.word;
}

/** Damerau-Levenshtein (optimal string alignment): a swapped pair of letters counts once. */
function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1);
    }
  }
  return d[a.length]![b.length]!;
}
