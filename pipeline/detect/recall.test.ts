import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Detection } from '../types.js';
import { addScores, labelledClipSchema, scoreFrame, sizeBucket, type LabelledFrame } from './recall.js';

const det = (label: string, score: number, x1: number, y1: number, x2: number, y2: number): Detection => ({
  label,
  classId: 0,
  score,
  box: { x1, y1, x2, y2 },
  frameTime: 0,
  model: 'test',
});

// 1000 x 500 frame: a car 100 px tall (large), a person 50 px (medium), a motorbike 20 px (small).
const frame: LabelledFrame = {
  time: 1,
  width: 1000,
  height: 500,
  boxes: [
    { label: 'car', box: [0.1, 0.2, 0.3, 0.4] },
    { label: 'person', box: [0.5, 0.5, 0.52, 0.6] },
    { label: 'motorcycle', box: [0.8, 0.1, 0.82, 0.14] },
  ],
  ignore: [[0.9, 0.8, 1, 1]],
};

describe('scoreFrame', () => {
  it('matches within label groups at IoU ≥ 0.5 and buckets by source-pixel height', () => {
    const s = scoreFrame(frame, [
      det('truck', 0.9, 100, 100, 300, 200), // car ↔ truck: same group, exact box
      det('person', 0.8, 600, 300, 620, 350), // nowhere near the labelled person → false positive
      det('bicycle', 0.7, 800, 50, 820, 70), // two-wheeler group, exact
      det('car', 0.6, 950, 450, 990, 490), // centre in the ignore region: not counted
      det('traffic light', 0.9, 0, 0, 10, 10), // label outside the groups: not scored
    ]);
    expect(s.found).toEqual({ small: 1, medium: 0, large: 1 });
    expect(s.total).toEqual({ small: 1, medium: 1, large: 1 });
    expect(s.falsePositives).toBe(1);
    expect(s.missed).toEqual([{ label: 'person', box: { x1: 500, y1: 250, x2: 520, y2: 300 } }]);
  });

  it('counts a second box on an already matched object as a false positive', () => {
    const s = scoreFrame(frame, [det('car', 0.9, 100, 100, 300, 200), det('car', 0.5, 105, 100, 300, 200)]);
    expect(s.found.large).toBe(1);
    expect(s.falsePositives).toBe(1);
  });

  it('sums frames and names the size buckets', () => {
    const a = scoreFrame(frame, []);
    expect(addScores([a, a]).total).toEqual({ small: 2, medium: 2, large: 2 });
    expect([sizeBucket(31.9), sizeBucket(32), sizeBucket(95), sizeBucket(96)]).toEqual(['small', 'medium', 'medium', 'large']);
  });
});

describe('fixtures/real/boxes', () => {
  const dir = path.resolve(import.meta.dirname, '..', '..', 'fixtures', 'real', 'boxes');
  it('every labelled clip file parses and names its own clip', () => {
    const files = readdirSync(dir).filter((f) => f.endsWith('.json'));
    expect(files.length).toBeGreaterThanOrEqual(5);
    for (const f of files) {
      const clip = labelledClipSchema.parse(JSON.parse(readFileSync(path.join(dir, f), 'utf8')));
      expect(clip.clip.replace(/\.[a-z0-9]+$/, '')).toBe(f.replace(/\.json$/, ''));
    }
  });
});
