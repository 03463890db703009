import { describe, expect, it } from 'vitest';
import type { Box, Detection } from '../types.js';
import { BoxAssociator, boxGap, groupTextLines, isNextTo } from './subjects.js';

const d = (label: string, box: Box): Detection => ({ label, classId: -1, score: 0.8, box, frameTime: 0, model: 'ocr' });
const A: Box = { x1: 0, y1: 0, x2: 100, y2: 20 };
const B: Box = { x1: 200, y1: 0, x2: 300, y2: 20 };

describe('BoxAssociator', () => {
  it('keeps ids for overlapping boxes of the same label, across short absences, and forgets idle ones', () => {
    const a = new BoxAssociator({ minIou: 0.3, maxIdleSec: 5 });
    expect(a.assign([d('text', A), d('text', B)], 0).map((r) => r.id)).toEqual([1, 2]);
    // Slightly shifted, order swapped, one frame missing in between.
    expect(a.assign([], 1)).toEqual([]);
    expect(a.assign([d('text', { ...B, x1: 205 }), d('text', { ...A, x2: 95 })], 2).map((r) => r.id)).toEqual([2, 1]);
    // A different label in the same place is a different subject.
    expect(a.assign([d('static_object', A)], 3).map((r) => r.id)).toEqual([3]);
    // B idle since 2 → forgotten after 5 s; it comes back as a new subject.
    expect(a.assign([d('text', B)], 7.5).map((r) => r.id)).toEqual([4]);
  });

  it('gives two detections competing for one subject one id each (best overlap wins)', () => {
    const a = new BoxAssociator({ minIou: 0.3, maxIdleSec: 5 });
    a.assign([d('text', A)], 0);
    const r = a.assign([d('text', { ...A, x1: 30 }), d('text', { ...A, x1: 5 })], 1);
    expect(r.map((x) => x.id)).toEqual([2, 1]);
  });

  it('validates options', () => {
    expect(() => new BoxAssociator({ minIou: 0, maxIdleSec: 1 })).toThrow(/minIou/);
  });
});

describe('proximity', () => {
  it('measures the gap between boxes and scales "next to" with the person height', () => {
    expect(boxGap(A, B)).toBe(100);
    expect(boxGap(A, { x1: 50, y1: 10, x2: 60, y2: 30 })).toBe(0);
    expect(boxGap(A, { x1: 103, y1: 24, x2: 110, y2: 30 })).toBe(5);
    const person: Box = { x1: 0, y1: 0, x2: 40, y2: 100 };
    expect(isNextTo(person, { x1: 90, y1: 50, x2: 150, y2: 100 })).toBe(true); // gap 50 = half height
    expect(isNextTo(person, { x1: 91, y1: 50, x2: 150, y2: 100 })).toBe(false);
  });
});

describe('groupTextLines', () => {
  const line = (box: Box, text: string, phones: string[], score: number): Detection => ({
    ...d('text', box),
    score,
    attributes: { text, phones },
  });
  it('merges the lines of one poster, keeps a distant one apart', () => {
    const out = groupTextLines([
      line({ x1: 10, y1: 40, x2: 110, y2: 60 }, '13800138000', ['13800138000'], 0.6),
      line({ x1: 10, y1: 10, x2: 120, y2: 30 }, '办证刻章', [], 0.8),
      line({ x1: 400, y1: 10, x2: 500, y2: 30 }, '招租', [], 0.7),
    ]);
    expect(out).toHaveLength(2);
    expect(out[0]!.box).toEqual({ x1: 10, y1: 10, x2: 120, y2: 60 });
    expect(out[0]!.score).toBeCloseTo(0.7, 10);
    expect(out[0]!.attributes).toEqual({ text: '办证刻章\n13800138000', phones: ['13800138000'], lines: 2 });
    expect(out[1]!.attributes).toEqual({ text: '招租', phones: [] });
  });
});
