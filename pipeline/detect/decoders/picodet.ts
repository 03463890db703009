import type { Candidate, DecoderFn, RawOutput } from './types.js';

/**
 * PicoDet (GFL head) outputs: for each stride s, a score tensor [1, N_s, C] (sigmoid applied) and
 * a box tensor [1, N_s, 4 × (regMax + 1)]. Manifest outputs list the score tensors of all strides
 * first, then the box tensors in the same order. Cells are row-major over ceil(S / stride)² and
 * anchored at the cell centre; each side (left, top, right, bottom) is a distribution over
 * 0..regMax whose expectation × stride is the distance from the centre to that side.
 */
export const decodePicodet: DecoderFn = (outputs, { manifest, scoreThreshold }) => {
  const strides = manifest.decoder.strides ?? [8, 16, 32, 64];
  const bins = (manifest.decoder.regMax ?? 7) + 1;
  const numClasses = manifest.labels.length;
  const { width, height } = manifest.input;
  if (manifest.outputs.length !== strides.length * 2) {
    throw new Error(
      `picodet decoder: ${strides.length} strides need ${strides.length * 2} outputs, manifest names ${manifest.outputs.length}`,
    );
  }
  const get = (name: string): RawOutput => {
    const t = outputs[name];
    if (!t) throw new Error(`picodet decoder: missing output "${name}"`);
    return t;
  };
  const result: Candidate[] = [];
  const probs = new Float64Array(bins);
  const dist = [0, 0, 0, 0];
  strides.forEach((stride, level) => {
    const scores = get(manifest.outputs[level]!);
    const boxes = get(manifest.outputs[level + strides.length]!);
    const gw = Math.ceil(width / stride);
    const gh = Math.ceil(height / stride);
    const n = gw * gh;
    if (scores.dims[1] !== n || scores.dims[2] !== numClasses) {
      throw new Error(`picodet decoder: stride ${stride} scores are ${scores.dims.join('x')}, expected 1x${n}x${numClasses}`);
    }
    if (boxes.dims[1] !== n || boxes.dims[2] !== 4 * bins) {
      throw new Error(`picodet decoder: stride ${stride} boxes are ${boxes.dims.join('x')}, expected 1x${n}x${4 * bins}`);
    }
    const s = scores.data;
    const b = boxes.data;
    for (let cell = 0; cell < n; cell++) {
      let best = 0;
      let bestScore = -1;
      const o = cell * numClasses;
      for (let c = 0; c < numClasses; c++) {
        const v = s[o + c]!;
        if (v > bestScore) {
          bestScore = v;
          best = c;
        }
      }
      if (bestScore < scoreThreshold) continue;
      // The softmax runs only for the few cells that pass the score gate.
      for (let side = 0; side < 4; side++) {
        const base = cell * 4 * bins + side * bins;
        let max = -Infinity;
        for (let i = 0; i < bins; i++) max = Math.max(max, b[base + i]!);
        let sum = 0;
        for (let i = 0; i < bins; i++) sum += probs[i] = Math.exp(b[base + i]! - max);
        let expectation = 0;
        for (let i = 0; i < bins; i++) expectation += (i * probs[i]!) / sum;
        dist[side] = expectation * stride;
      }
      const cx = ((cell % gw) + 0.5) * stride;
      const cy = (Math.floor(cell / gw) + 0.5) * stride;
      result.push({ classId: best, score: bestScore, x1: cx - dist[0]!, y1: cy - dist[1]!, x2: cx + dist[2]!, y2: cy + dist[3]! });
    }
  });
  return result;
};
