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
  if (data.length !== n * 3) throw new Error(`tensor buffer holds ${data.length} values, model ${manifest.name} needs ${n * 3}`);
  const src = frame.data;
  // Model channel c reads byte o[c] of each source pixel.
  const srcIsBgr = frame.pixelFormat === 'bgr24';
  const wantBgr = colorOrder === 'bgr';
  const [o0, o1, o2] = srcIsBgr === wantBgr ? [0, 1, 2] : [2, 1, 0];
  // v * k - b with k = scale/std and b = mean/std; identity (k 1, b 0) gives the bytes exactly.
  const k0 = scale / std[0]!,
    k1 = scale / std[1]!,
    k2 = scale / std[2]!;
  const b0 = mean[0]! / std[0]!,
    b1 = mean[1]! / std[1]!,
    b2 = mean[2]! / std[2]!;
  // One pass over the pixels. Filling a reused buffer (ModelSession.runFrame's pool) is what saves
  // time: allocating and collecting a fresh 2 MB array per frame costs more than the loop itself.
  if (layout === 'NCHW') {
    const g = n,
      r = 2 * n;
    for (let i = 0, j = 0; i < n; i++, j += 3) {
      data[i] = src[j + o0]! * k0 - b0;
      data[g + i] = src[j + o1]! * k1 - b1;
      data[r + i] = src[j + o2]! * k2 - b2;
    }
  } else {
    for (let j = 0; j < n * 3; j += 3) {
      data[j] = src[j + o0]! * k0 - b0;
      data[j + 1] = src[j + o1]! * k1 - b1;
      data[j + 2] = src[j + o2]! * k2 - b2;
    }
  }
  return data;
}
