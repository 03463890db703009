import type { ModelManifest } from '../../models/manifest.js';
import type { Frame } from '../types.js';

/**
 * Packed 8-bit pixels (already letterboxed by ffmpeg) → float32 tensor data in the model's layout,
 * colour order and normalisation. One pass over the pixels; no resize happens here.
 */
export function frameToTensorData(frame: Frame, manifest: ModelManifest, out?: Float32Array): Float32Array {
  const { width, height, layout, colorOrder, scale, mean, std } = manifest.input;
  const { dstWidth, dstHeight } = frame.letterbox;
  if (dstWidth !== width || dstHeight !== height) {
    throw new Error(`frame is ${dstWidth}x${dstHeight} but model ${manifest.name} expects ${width}x${height}`);
  }
  const n = width * height;
  const data = out ?? new Float32Array(n * 3);
  const src = frame.data;
  // Map model channel c to the byte offset inside a source pixel.
  const srcIsBgr = frame.pixelFormat === 'bgr24';
  const wantBgr = colorOrder === 'bgr';
  const order = srcIsBgr === wantBgr ? [0, 1, 2] : [2, 1, 0];
  const identity = scale === 1 && mean.every((m) => m === 0) && std.every((s) => s === 1);
  for (let c = 0; c < 3; c++) {
    const off = order[c]!;
    const k = scale / std[c]!;
    const b = mean[c]! / std[c]!;
    if (layout === 'NCHW') {
      const base = c * n;
      if (identity) for (let i = 0; i < n; i++) data[base + i] = src[i * 3 + off]!;
      else for (let i = 0; i < n; i++) data[base + i] = src[i * 3 + off]! * k - b;
    } else {
      for (let i = 0; i < n; i++) data[i * 3 + c] = src[i * 3 + off]! * k - b;
    }
  }
  return data;
}
