import { describe, expect, it } from 'vitest';
import { ctcGreedyDecode, parseCharset } from './ctc.js';
import { dbBoxes } from './db-postprocess.js';

describe('parseCharset', () => {
  it('keeps dictionary order and appends the space class', () => {
    expect(parseCharset("a\nb\n'\n")).toEqual(['a', 'b', "'", ' ']);
    expect(parseCharset('x\r\ny')).toEqual(['x', 'y', ' ']);
  });
});

describe('ctcGreedyDecode', () => {
  const charset = ['1', '3', '8', ' '];
  const steps = (...best: number[]) => {
    const probs = new Float32Array(best.length * 5);
    best.forEach((c, t) => {
      for (let k = 0; k < 5; k++) probs[t * 5 + k] = k === c ? 0.8 : 0.05;
    });
    return probs;
  };

  it('collapses repeats, drops blanks and keeps doubled letters split by a blank', () => {
    // 1 1 _ 3 3 _ 3 8 _ → "1338"
    const r = ctcGreedyDecode(steps(1, 1, 0, 2, 2, 0, 2, 3, 0), 9, 5, charset);
    expect(r.text).toBe('1338');
    expect(r.score).toBeCloseTo(0.8, 5);
  });

  it('returns an empty string with score 0 for all-blank output', () => {
    expect(ctcGreedyDecode(steps(0, 0, 0), 3, 5, charset)).toEqual({ text: '', score: 0 });
  });

  it('refuses a tensor of the wrong size', () => {
    expect(() => ctcGreedyDecode(new Float32Array(7), 3, 5, charset)).toThrow(/expected 3×5/);
  });
});

describe('dbBoxes', () => {
  it('turns a text kernel into an unclipped box with its mean probability', () => {
    const w = 40,
      h = 20;
    const prob = new Float32Array(w * h);
    // Kernel 20×4 at (10,8); mean prob 0.9.
    for (let y = 8; y < 12; y++) for (let x = 10; x < 30; x++) prob[y * w + x] = x % 2 ? 0.95 : 0.85;
    // A faint blob that passes binarisation but not the box score.
    for (let y = 1; y < 5; y++) for (let x = 1; x < 6; x++) prob[y * w + x] = 0.4;
    const boxes = dbBoxes(prob, w, h);
    expect(boxes).toHaveLength(1);
    // offset = area·1.5 / perimeter = 80·1.5 / 48 = 2.5
    expect(boxes[0]!.box).toEqual({ x1: 7.5, y1: 5.5, x2: 32.5, y2: 14.5 });
    expect(boxes[0]!.score).toBeCloseTo(0.9, 5);
  });

  it('drops slivers thinner than minSide', () => {
    const w = 20,
      h = 10;
    const prob = new Float32Array(w * h);
    for (let x = 2; x < 18; x++) prob[5 * w + x] = prob[6 * w + x] = 0.99;
    expect(dbBoxes(prob, w, h)).toEqual([]);
    expect(dbBoxes(prob, w, h, { minSide: 2 })).toHaveLength(1);
  });
});
