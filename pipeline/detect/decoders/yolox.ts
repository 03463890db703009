import type { Candidate, DecoderFn } from './types.js';

/**
 * YOLOX head output [1, N, 5 + C], rows ordered over grids of strides (8, 16, 32): each row is
 * [dx, dy, log w, log h, objectness, C class scores], sigmoids already applied in the export.
 */
export const decodeYolox: DecoderFn = (outputs, { manifest, scoreThreshold }) => {
  const out = outputs[manifest.outputs[0]!];
  if (!out) throw new Error(`yolox decoder: missing output "${manifest.outputs[0]}"`);
  const { width, height } = manifest.input;
  const strides = manifest.decoder.strides ?? [8, 16, 32];
  const numClasses = manifest.labels.length;
  const rowLen = 5 + numClasses;
  const rows = out.dims[1]!;
  if (out.dims[2] !== rowLen) throw new Error(`yolox decoder: expected rows of ${rowLen}, got dims ${out.dims.join('x')}`);
  const data = out.data;
  const result: Candidate[] = [];
  let row = 0;
  for (const stride of strides) {
    const gw = Math.floor(width / stride);
    const gh = Math.floor(height / stride);
    for (let gy = 0; gy < gh; gy++) {
      for (let gx = 0; gx < gw; gx++, row++) {
        const o = row * rowLen;
        const obj = data[o + 4]!;
        // Cheap reject: no class score can lift a low objectness above the threshold.
        if (obj < scoreThreshold) continue;
        let best = 0;
        let bestScore = 0;
        for (let c = 0; c < numClasses; c++) {
          const s = data[o + 5 + c]!;
          if (s > bestScore) {
            bestScore = s;
            best = c;
          }
        }
        const score = obj * bestScore;
        if (score < scoreThreshold) continue;
        const cx = (data[o]! + gx) * stride;
        const cy = (data[o + 1]! + gy) * stride;
        const w = Math.exp(data[o + 2]!) * stride;
        const h = Math.exp(data[o + 3]!) * stride;
        result.push({ classId: best, score, x1: cx - w / 2, y1: cy - h / 2, x2: cx + w / 2, y2: cy + h / 2 });
      }
    }
  }
  if (row !== rows) throw new Error(`yolox decoder: grid has ${row} cells but output has ${rows} rows`);
  return result;
};
