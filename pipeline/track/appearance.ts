// A cheap appearance descriptor: the colour histogram of the middle of a box, read from the frame
// the detector already has. The rules use it for one decision only: a subject that vanished
// where it stood is not continued by a new track in the same spot whose colours clearly differ.
// At 0.25–1 fps nobody is seen walking off, so without it the next person standing at a table
// inherited the previous one's episode (and its cooldown). Pure: no I/O.
import type { Box } from '../types.js';

/** Bins per channel (8³ = 512 bins): finer bins told the people of the indoor clip apart (README). */
export const APPEARANCE_BINS = 8;

/** Pixels sampled at most per box: a stride keeps the cost flat whatever the box size. */
const MAX_SAMPLES = 1024;

export interface PixelImage {
  /** Packed interleaved pixels, width × height × 3. */
  data: Uint8Array;
  width: number;
  height: number;
  /** Byte order of each pixel. */
  pixelFormat: 'rgb24' | 'bgr24';
}

/**
 * Normalised RGB histogram (APPEARANCE_BINS³ bins, summing to 1) of the box's upper middle — the
 * inner 40 % of its width, 15–55 % of its height: for a person the torso (clothes), with little
 * of the background at the sides, the face or the ground. `box` is in this image's pixels. Null
 * when that part holds no pixel (a box outside the image or only a few px).
 */
export function colourHistogram(img: PixelImage, box: Box): number[] | null {
  const w = box.x2 - box.x1;
  const h = box.y2 - box.y1;
  const x1 = Math.max(0, Math.floor(box.x1 + 0.3 * w));
  const x2 = Math.min(img.width, Math.ceil(box.x2 - 0.3 * w));
  const y1 = Math.max(0, Math.floor(box.y1 + 0.15 * h));
  const y2 = Math.min(img.height, Math.ceil(box.y2 - 0.45 * h));
  if (!(x2 > x1 && y2 > y1)) return null;
  const area = (x2 - x1) * (y2 - y1);
  const stride = Math.max(1, Math.ceil(Math.sqrt(area / MAX_SAMPLES)));
  const n = APPEARANCE_BINS;
  const hist = new Array<number>(n * n * n).fill(0);
  const [ri, bi] = img.pixelFormat === 'rgb24' ? [0, 2] : [2, 0];
  const shift = 256 / n;
  let count = 0;
  for (let y = y1; y < y2; y += stride) {
    for (let x = x1; x < x2; x += stride) {
      const o = (y * img.width + x) * 3;
      const r = Math.floor(img.data[o + ri]! / shift);
      const g = Math.floor(img.data[o + 1]! / shift);
      const b = Math.floor(img.data[o + bi]! / shift);
      hist[(r * n + g) * n + b]! += 1;
      count++;
    }
  }
  return hist.map((v) => Math.round((v / count) * 1e4) / 1e4);
}

/**
 * Hellinger distance between two normalised histograms (0 identical, 1 disjoint): the
 * Bhattacharyya form OpenCV's compareHist uses, bounded and symmetric. Throws on a bin-count mismatch.
 */
export function appearanceDistance(a: readonly number[], b: readonly number[]): number {
  if (a.length !== b.length) throw new RangeError(`appearance histograms differ in size (${a.length} vs ${b.length})`);
  const sa = a.reduce((s, v) => s + v, 0);
  const sb = b.reduce((s, v) => s + v, 0);
  if (!(sa > 0 && sb > 0)) return 1;
  let bc = 0;
  for (let i = 0; i < a.length; i++) bc += Math.sqrt((a[i]! / sa) * (b[i]! / sb));
  return Math.round(Math.sqrt(Math.max(0, 1 - bc)) * 1e4) / 1e4;
}

/**
 * Above this distance two boxes in the same spot are different people (or vehicles). Measured on
 * real footage, see the README ("Low analysed rates"): the same person across frames and after a
 * brief occlusion stays well below; different clothes are far above.
 */
export const DEFAULT_REASSOCIATE_MAX_APPEARANCE = 0.5;
