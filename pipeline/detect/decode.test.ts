import { describe, expect, it } from 'vitest';
import { loadManifest, type ModelManifest } from '../../models/manifest.js';
import { decodeYolox } from './decoders/yolox.js';
import { decoderFor } from './decoders/index.js';
import { nms, suppressContainedParts, suppressFamilyDuplicates } from './nms.js';
import { frameToTensorData } from './preprocess.js';
import { computeLetterbox } from '../geometry/letterbox.js';

const manifest: ModelManifest = await loadManifest('yolox_nano');
const ROW = 85;
const ROWS = 52 * 52 + 26 * 26 + 13 * 13;

/** An all-zero YOLOX output with chosen cells filled in. */
function output(cells: Array<{ row: number; dx: number; dy: number; lw: number; lh: number; obj: number; cls: number; score: number }>) {
  const data = new Float32Array(ROWS * ROW);
  for (const c of cells) {
    const o = c.row * ROW;
    data.set([c.dx, c.dy, c.lw, c.lh, c.obj], o);
    data[o + 5 + c.cls] = c.score;
  }
  return { output: { data, dims: [1, ROWS, ROW] } };
}

describe('YOLOX decoder', () => {
  it('decodes grid offsets, strides and log sizes exactly', () => {
    // Stride 8 grid: row = gy*52 + gx. Cell (gx=3, gy=2), dx=0.5 → cx=(0.5+3)*8=28, cy=(0.25+2)*8=18.
    const row8 = 2 * 52 + 3;
    // Stride 16 grid starts after 2704 rows; cell (gx=1, gy=0).
    const row16 = 2704 + 1;
    const cands = decodeYolox(
      output([
        { row: row8, dx: 0.5, dy: 0.25, lw: Math.log(2), lh: Math.log(4), obj: 0.9, cls: 2, score: 0.8 },
        { row: row16, dx: 0, dy: 0, lw: 0, lh: 0, obj: 0.5, cls: 0, score: 0.5 },
      ]),
      { manifest, scoreThreshold: 0.3 },
    );
    expect(cands).toHaveLength(1); // 0.5 × 0.5 = 0.25 < 0.3
    const c = cands[0]!;
    expect(c.classId).toBe(2);
    expect(c.score).toBeCloseTo(0.72, 6);
    expect([c.x1, c.y1, c.x2, c.y2].map((v) => +v.toFixed(4))).toEqual([20, 2, 36, 34]);
  });

  it('rejects an output of the wrong shape', () => {
    expect(() => decodeYolox({ output: { data: new Float32Array(10), dims: [1, 2, 5] } }, { manifest, scoreThreshold: 0.1 })).toThrow(
      /rows of 85/,
    );
  });

  it('is found through the decoder registry; unknown kinds are named', () => {
    expect(decoderFor('yolox')).toBe(decodeYolox);
    expect(() => decoderFor('ssd')).toThrow(/no decoder implemented for kind "ssd"/);
  });
});

describe('class-aware NMS', () => {
  const box = (classId: number, score: number, x1: number) => ({ classId, score, x1, y1: 0, x2: x1 + 10, y2: 10 });
  it('suppresses overlapping boxes of the same class only', () => {
    const kept = nms([box(0, 0.9, 0), box(0, 0.8, 1), box(1, 0.7, 1), box(0, 0.6, 50)], 0.45);
    expect(kept.map((k) => [k.classId, k.score])).toEqual([
      [0, 0.9],
      [1, 0.7],
      [0, 0.6],
    ]);
  });
  it('keeps boxes whose IoU is at or below the threshold', () => {
    // x offset 5 → IoU = 50/150 = 0.333
    expect(nms([box(0, 0.9, 0), box(0, 0.8, 5)], 0.34)).toHaveLength(2);
    expect(nms([box(0, 0.9, 0), box(0, 0.8, 5)], 0.33)).toHaveLength(1);
  });
  it('caps the number of detections', () => {
    expect(nms([box(0, 0.9, 0), box(0, 0.8, 100), box(0, 0.7, 200)], 0.5, 2)).toHaveLength(2);
  });
});

describe('contained-part merging', () => {
  const c = (classId: number, score: number, x1: number, y1: number, x2: number, y2: number) => ({ classId, score, x1, y1, x2, y2 });
  // Whole bicycle 0..240 × 0..200 (area 48000); its rear half 100..240 × 60..200 (area 19600), fully inside.
  const whole = c(1, 0.63, 0, 0, 240, 200);
  const rear = c(1, 0.53, 100, 60, 240, 200);
  it('drops a same-class box inside a higher-scored one, for the listed classes only', () => {
    expect(suppressContainedParts([whole, rear], 0.85, new Set([1]))).toEqual([whole]);
    expect(suppressContainedParts([whole, rear], 0.85, new Set([0]))).toEqual([whole, rear]);
    expect(suppressContainedParts([whole, { ...rear, classId: 3 }], 0.85, new Set([1, 3]))).toHaveLength(2);
  });
  it('keeps the whole box with the score of the part when the part outscores it', () => {
    const rearFirst = { ...rear, score: 0.7 };
    expect(suppressContainedParts([rearFirst, whole], 0.85, new Set([1]))).toEqual([{ ...whole, score: 0.7 }]);
  });
  it('compares intersection with the smaller area against the ratio', () => {
    // Shifted part: 140..280 × 60..200 → intersection 100 × 140 = 14000 of 19600 = 0.714.
    const shifted = c(1, 0.5, 140, 60, 280, 200);
    expect(suppressContainedParts([whole, shifted], 0.72, new Set([1]))).toHaveLength(2);
    expect(suppressContainedParts([whole, shifted], 0.71, new Set([1]))).toHaveLength(1);
    // Two bikes of the same size packed together (one shifted 10 % sideways) stay two bikes.
    expect(suppressContainedParts([whole, c(1, 0.5, 24, 0, 264, 200)], 0.85, new Set([1]))).toHaveLength(2);
    expect(suppressContainedParts([whole, c(1, 0.5, 24, 0, 264, 200)], 0.85, new Set([1]), 1)).toHaveLength(1);
    // Two bikes side by side touching at one edge never count as parts.
    expect(suppressContainedParts([whole, c(1, 0.5, 240, 0, 480, 200)], 0.1, new Set([1]))).toHaveLength(2);
  });
});

describe('family duplicate suppression', () => {
  const c = (classId: number, score: number, x1: number) => ({ classId, score, x1, y1: 0, x2: x1 + 100, y2: 100 });
  // bicycle = 1 and motorcycle = 3 form family 0; person = 0 has none.
  const fam = new Map([
    [1, 0],
    [3, 0],
  ]);
  it('keeps the best-scored label when two family members cover one object', () => {
    // Offset 10 px → IoU = 9000 / 11000 = 0.818.
    expect(suppressFamilyDuplicates([c(1, 0.77, 0), c(3, 0.32, 10)], 0.7, fam)).toEqual([c(1, 0.77, 0)]);
    expect(suppressFamilyDuplicates([c(1, 0.77, 0), c(3, 0.32, 10)], 0.85, fam)).toHaveLength(2);
  });
  it('leaves other labels, same-label boxes and separate objects alone', () => {
    expect(suppressFamilyDuplicates([c(1, 0.77, 0), c(0, 0.9, 5)], 0.7, fam)).toHaveLength(2);
    expect(suppressFamilyDuplicates([c(1, 0.77, 0), c(1, 0.5, 5)], 0.7, fam)).toHaveLength(2);
    expect(suppressFamilyDuplicates([c(1, 0.77, 0), c(3, 0.6, 60)], 0.7, fam)).toHaveLength(2);
  });
});

describe('preprocess', () => {
  it('converts packed BGR pixels to planar float in the model colour order', () => {
    const lb = { ...computeLetterbox(2, 1, 416, 416) };
    const data = Buffer.alloc(416 * 416 * 3);
    data.set([10, 20, 30, 40, 50, 60]); // two BGR pixels
    const t = frameToTensorData({ data, pixelFormat: 'bgr24', letterbox: lb, index: 0, streamTime: 0, wallTime: 0 }, manifest);
    const n = 416 * 416;
    expect([t[0], t[1], t[n], t[n + 1], t[2 * n], t[2 * n + 1]]).toEqual([10, 40, 20, 50, 30, 60]);
    // The same bytes declared as RGB are swapped into the model's BGR order.
    const t2 = frameToTensorData({ data, pixelFormat: 'rgb24', letterbox: lb, index: 0, streamTime: 0, wallTime: 0 }, manifest);
    expect([t2[0], t2[n], t2[2 * n]]).toEqual([30, 20, 10]);
  });
  it('normalises with the manifest mean/std in RGB order for PicoDet', async () => {
    const pico = await loadManifest('picodet_s_320_coco');
    const lb = computeLetterbox(640, 480, 320, 320, 'stretch');
    const data = Buffer.alloc(320 * 320 * 3);
    data.set([182, 116, 0]); // one RGB pixel: about +1, 0 and -1.8 std
    const t = frameToTensorData({ data, pixelFormat: 'rgb24', letterbox: lb, index: 0, streamTime: 0, wallTime: 0 }, pico);
    const n = 320 * 320;
    // Byte values are integers: 182 → (182 - 123.675) / 58.395, 116 → (116 - 116.28) / 57.12, 0 → -103.53 / 57.375.
    expect([t[0], t[n], t[2 * n]].map((v) => +v!.toFixed(4))).toEqual([
      +((182 - 123.675) / 58.395).toFixed(4),
      +((116 - 116.28) / 57.12).toFixed(4),
      +(-103.53 / 57.375).toFixed(4),
    ]);
  });
  it('refuses frames of the wrong size', () => {
    const lb = computeLetterbox(640, 480, 320, 320);
    expect(() =>
      frameToTensorData(
        { data: Buffer.alloc(320 * 320 * 3), pixelFormat: 'bgr24', letterbox: lb, index: 0, streamTime: 0, wallTime: 0 },
        manifest,
      ),
    ).toThrow(/expects 416x416/);
  });
});
