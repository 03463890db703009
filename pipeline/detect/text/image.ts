// Pixel plumbing for the OCR models: crops, rotation and bilinear resizing of packed RGB/BGR
// images into float planes. Pure; no codecs involved so it can run on every frame.
import type { Box } from '../../types.js';

import type { RawImage } from '../../source/frame-image.js';

export type { RawImage };

/** Interleaved float 3-channel image (0..255), in the channel order it was cropped with. */
export interface RgbF {
  data: Float32Array;
  width: number;
  height: number;
}

export function assertRawImage(image: RawImage): void {
  if (!(Number.isInteger(image.width) && Number.isInteger(image.height) && image.width > 0 && image.height > 0)) {
    throw new Error(`RawImage has an invalid size ${image.width}x${image.height}`);
  }
  if (image.data.length < image.width * image.height * 3) {
    throw new Error(`RawImage of ${image.width}x${image.height} needs ${image.width * image.height * 3} bytes, got ${image.data.length}`);
  }
  if (image.pixelFormat !== 'rgb24' && image.pixelFormat !== 'bgr24') {
    throw new Error(`RawImage pixelFormat must be rgb24 or bgr24, got ${String(image.pixelFormat)}`);
  }
}

/** Integer pixel box clipped to the image; null when nothing is left. */
export function clipBox(box: Box, width: number, height: number): Box | null {
  const x1 = Math.max(0, Math.floor(box.x1));
  const y1 = Math.max(0, Math.floor(box.y1));
  const x2 = Math.min(width, Math.ceil(box.x2));
  const y2 = Math.min(height, Math.ceil(box.y2));
  return x2 > x1 && y2 > y1 ? { x1, y1, x2, y2 } : null;
}

/** Copies a clipped integer box out of the image as floats in the requested channel order. */
export function cropRgb(image: RawImage, box: Box, order: 'rgb' | 'bgr' = 'rgb'): RgbF {
  const w = box.x2 - box.x1;
  const h = box.y2 - box.y1;
  const out = new Float32Array(w * h * 3);
  const swap = (image.pixelFormat === 'bgr24') !== (order === 'bgr');
  for (let y = 0; y < h; y++) {
    let p = ((box.y1 + y) * image.width + box.x1) * 3;
    let q = y * w * 3;
    for (let x = 0; x < w; x++, p += 3, q += 3) {
      out[q] = image.data[swap ? p + 2 : p]!;
      out[q + 1] = image.data[p + 1]!;
      out[q + 2] = image.data[swap ? p : p + 2]!;
    }
  }
  return { data: out, width: w, height: h };
}

/** Rotates 90° counter-clockwise (what PaddleOCR does to tall text crops before recognition). */
export function rotateCcw(img: RgbF): RgbF {
  const { width: w, height: h } = img;
  const out = new Float32Array(w * h * 3);
  // New image is h wide, w tall; new(x', y') = old(w-1-y', x').
  for (let ny = 0; ny < w; ny++) {
    for (let nx = 0; nx < h; nx++) {
      const src = (nx * w + (w - 1 - ny)) * 3;
      const dst = (ny * h + nx) * 3;
      out[dst] = img.data[src]!;
      out[dst + 1] = img.data[src + 1]!;
      out[dst + 2] = img.data[src + 2]!;
    }
  }
  return { data: out, width: h, height: w };
}

/**
 * Bilinear resize (pixel-centre aligned, like cv2.INTER_LINEAR) written straight into a CHW
 * float tensor of size 3 × tensorH × tensorW at the top-left, each value mapped through `norm[c]`.
 * Tensor cells outside dstW × dstH keep `fill`.
 */
export function resizeToChw(
  img: RgbF,
  dstW: number,
  dstH: number,
  tensorW: number,
  tensorH: number,
  norm: readonly [(v: number) => number, (v: number) => number, (v: number) => number],
  fill = 0,
): Float32Array {
  const out = new Float32Array(3 * tensorW * tensorH).fill(fill);
  const plane = tensorW * tensorH;
  const sx = img.width / dstW;
  const sy = img.height / dstH;
  for (let y = 0; y < dstH; y++) {
    const fy = Math.min(img.height - 1, Math.max(0, (y + 0.5) * sy - 0.5));
    const y0 = Math.floor(fy);
    const y1 = Math.min(img.height - 1, y0 + 1);
    const wy = fy - y0;
    for (let x = 0; x < dstW; x++) {
      const fx = Math.min(img.width - 1, Math.max(0, (x + 0.5) * sx - 0.5));
      const x0 = Math.floor(fx);
      const x1 = Math.min(img.width - 1, x0 + 1);
      const wx = fx - x0;
      const a = (y0 * img.width + x0) * 3;
      const b = (y0 * img.width + x1) * 3;
      const c = (y1 * img.width + x0) * 3;
      const d = (y1 * img.width + x1) * 3;
      for (let ch = 0; ch < 3; ch++) {
        const top = img.data[a + ch]! * (1 - wx) + img.data[b + ch]! * wx;
        const bot = img.data[c + ch]! * (1 - wx) + img.data[d + ch]! * wx;
        out[ch * plane + y * tensorW + x] = norm[ch]!(top * (1 - wy) + bot * wy);
      }
    }
  }
  return out;
}

export { frameToRawImage } from '../../source/frame-image.js';
