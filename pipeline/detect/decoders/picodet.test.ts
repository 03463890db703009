import { describe, expect, it } from 'vitest';
import { loadManifest } from '../../../models/manifest.js';
import { decoderFor, type RawOutput } from './index.js';
import { decodePicodet } from './picodet.js';

const manifest = await loadManifest('picodet_s_320_coco');
const CELLS = [1600, 400, 100, 25]; // ceil(320 / s)² for s = 8, 16, 32, 64
const BINS = 8;

/** All-zero score tensors and uniform box logits, with chosen cells filled in. */
function outputs(cells: Array<{ level: number; cell: number; cls: number; score: number; sides?: number[][] }>): Record<string, RawOutput> {
  const out: Record<string, RawOutput> = {};
  CELLS.forEach((n, level) => {
    out[manifest.outputs[level]!] = { data: new Float32Array(n * 80), dims: [1, n, 80] };
    out[manifest.outputs[level + 4]!] = { data: new Float32Array(n * 4 * BINS), dims: [1, n, 4 * BINS] };
  });
  for (const c of cells) {
    out[manifest.outputs[c.level]!]!.data[c.cell * 80 + c.cls] = c.score;
    c.sides?.forEach((logits, side) => out[manifest.outputs[c.level + 4]!]!.data.set(logits, c.cell * 4 * BINS + side * BINS));
  }
  return out;
}

const NEG = -Infinity;

describe('PicoDet decoder', () => {
  it('takes softmax expectations × stride from the cell centre for each side', () => {
    // Stride 16, grid 20 wide: cell 43 = (gx 3, gy 2) → centre (56, 40).
    const sides = [
      [0, 0, 0, 0, 0, 0, 0, 0], // uniform → 3.5 → 56 px
      [NEG, NEG, 0, NEG, NEG, NEG, NEG, NEG], // all mass on bin 2 → 32 px
      [NEG, 0, NEG, 0, NEG, NEG, NEG, NEG], // half on 1, half on 3 → 2 → 32 px
      [0, NEG, NEG, NEG, Math.log(3), NEG, NEG, NEG], // 0.25 on 0, 0.75 on 4 → 3 → 48 px
    ];
    const cands = decodePicodet(outputs([{ level: 1, cell: 43, cls: 2, score: 0.8, sides }]), { manifest, scoreThreshold: 0.3 });
    expect(cands).toHaveLength(1);
    const c = cands[0]!;
    expect(c.classId).toBe(2);
    expect(c.score).toBeCloseTo(0.8, 6);
    expect([c.x1, c.y1, c.x2, c.y2].map((v) => +v.toFixed(4))).toEqual([0, 8, 88, 88]);
  });

  it('keeps the best class per cell, gates on the score and covers the partial last grid', () => {
    const cands = decodePicodet(
      outputs([
        { level: 0, cell: 0, cls: 0, score: 0.2 }, // below threshold
        { level: 3, cell: 24, cls: 0, score: 0.6 }, // stride 64, 5x5 grid: (4, 4) → centre (288, 288)
        { level: 3, cell: 24, cls: 7, score: 0.7 },
      ]),
      { manifest, scoreThreshold: 0.3 },
    );
    expect(cands).toHaveLength(1);
    expect(cands[0]!.classId).toBe(7);
    expect(cands[0]!.score).toBeCloseTo(0.7, 6);
    // Uniform box logits: every side 3.5 × 64 = 224 px from the centre.
    expect([cands[0]!.x1, cands[0]!.y1, cands[0]!.x2, cands[0]!.y2]).toEqual([64, 64, 512, 512]);
  });

  it('names the tensor whose shape is wrong', () => {
    const out = outputs([]);
    out[manifest.outputs[6]!] = { data: new Float32Array(10), dims: [1, 10, 1] };
    expect(() => decodePicodet(out, { manifest, scoreThreshold: 0.3 })).toThrow(/stride 32 boxes are 1x10x1, expected 1x100x32/);
    delete out[manifest.outputs[0]!];
    expect(() => decodePicodet(out, { manifest, scoreThreshold: 0.3 })).toThrow(/missing output/);
  });

  it('is registered for manifests of kind picodet', () => {
    expect(manifest.decoder.kind).toBe('picodet');
    expect(decoderFor('picodet')).toBe(decodePicodet);
  });
});
