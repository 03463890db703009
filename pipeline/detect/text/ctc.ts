// Greedy CTC decoding for the PP-OCR recogniser.

export interface Decoded {
  text: string;
  /** Mean probability of the emitted characters (0 when nothing was emitted). */
  score: number;
}

/**
 * Decodes one sequence of per-step class probabilities (steps × classes, row-major).
 * Class 0 is the CTC blank; class k ≥ 1 is charset[k - 1]. Repeats collapse unless a blank
 * separates them.
 */
export function ctcGreedyDecode(probs: Float32Array, steps: number, classes: number, charset: readonly string[]): Decoded {
  if (probs.length < steps * classes) throw new Error(`CTC output has ${probs.length} values, expected ${steps}×${classes}`);
  let text = '';
  let sum = 0;
  let n = 0;
  let prev = -1;
  for (let t = 0; t < steps; t++) {
    const row = t * classes;
    let best = 0;
    let bestP = probs[row]!;
    for (let c = 1; c < classes; c++) {
      const p = probs[row + c]!;
      if (p > bestP) {
        bestP = p;
        best = c;
      }
    }
    if (best !== 0 && best !== prev) {
      text += charset[best - 1] ?? '';
      sum += bestP;
      n++;
    }
    prev = best;
  }
  return { text, score: n > 0 ? sum / n : 0 };
}

/** PaddleOCR's charset: the dictionary lines plus a trailing space (use_space_char). */
export function parseCharset(dict: string): string[] {
  const lines = dict.split(/\r?\n/);
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return [...lines, ' '];
}
