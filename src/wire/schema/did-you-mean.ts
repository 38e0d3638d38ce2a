// "Did you mean X?" for a key or value the schema does not know: the nearest known name by edit distance
// (Damerau–Levenshtein, optimal string alignment: "Mesage" -> "Message", "OSVresion" -> "OSVersion").
// Compared case-insensitively, so "message" finds "Message" at distance 0.

/** Distances above this are not suggested: past it the nearest name is a guess, not a typo. */
function threshold(word: string): number {
  return word.length <= 4 ? 1 : word.length <= 8 ? 2 : 3;
}

/** Edit distance between a and b, giving up (returning max + 1) once it must exceed max. */
export function editDistance(a: string, b: string, max = Infinity): number {
  if (Math.abs(a.length - b.length) > max) return max + 1;
  const rows: number[][] = [];
  for (let i = 0; i <= a.length; i++) rows.push([i]);
  for (let j = 1; j <= b.length; j++) rows[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    let best = Infinity;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(rows[i - 1]![j]! + 1, rows[i]![j - 1]! + 1, rows[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, rows[i - 2]![j - 2]! + 1);
      rows[i]![j] = d;
      best = Math.min(best, d);
    }
    if (best > max) return max + 1;
  }
  return rows[a.length]![b.length]!;
}

/** The known name closest to `word`, when it is close enough to be a typo of it. */
export function nearestName(word: string, known: Iterable<string>): string | undefined {
  const w = word.toLowerCase();
  const max = threshold(w);
  let best: string | undefined;
  let bestDistance = max + 1;
  for (const name of known) {
    const d = editDistance(w, name.toLowerCase(), max);
    if (d < bestDistance) {
      best = name;
      bestDistance = d;
    }
  }
  return best;
}

/** " (did you mean "X"?)" or "", for the end of a message. */
export function didYouMean(word: string, known: Iterable<string>): string {
  const near = nearestName(word, known);
  return near === undefined ? "" : ` (did you mean ${JSON.stringify(near)}?)`;
}
