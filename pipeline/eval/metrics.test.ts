import { describe, expect, it } from 'vitest';
import { matchClip, type PredictedEpisode, type TruthEpisode } from './match.js';
import { computeMetrics, f1Of, gateFailures } from './metrics.js';

const pred = (episodeId: string, classId: string, start: number, end: number, confirmedAt: number): PredictedEpisode => ({
  episodeId,
  classId,
  zoneId: 'z',
  start,
  end,
  confirmedAt,
});
const truth = (classId: string, start: number, end: number): TruthEpisode => ({ classId, zoneId: 'z', start, end });

describe('computeMetrics', () => {
  // Clip A: parking truth matched (TTD 8) + a duplicate; a vending truth missed.
  const a = matchClip(
    [pred('p1', 'illegal_parking', 10, 30, 18), pred('p2', 'illegal_parking', 31, 40, 36)],
    [truth('illegal_parking', 10, 40), truth('street_vending', 0, 50)],
  );
  // Clip B: parking truth matched (TTD 12), a parking false positive, a vending truth matched (TTD 30).
  const b = matchClip(
    [pred('q1', 'illegal_parking', 5, 20, 17), pred('q2', 'illegal_parking', 70, 80, 75), pred('q3', 'street_vending', 10, 60, 40)],
    [truth('illegal_parking', 5, 25), truth('street_vending', 10, 60)],
  );
  const m = computeMetrics([a, b]);

  it('counts TP/FP/FN/duplicates per class and derives P/R/F1 exactly', () => {
    const park = m.classes.find((c) => c.classId === 'illegal_parking')!;
    expect(park).toMatchObject({ tp: 2, fp: 1, fn: 0, duplicates: 1, truths: 2, predictions: 4, clips: 2 });
    expect(park.precision).toBe(0.5); // 2 / (2 + 1 + 1): a duplicate case costs precision
    expect(park.recall).toBe(1);
    expect(park.f1).toBeCloseTo(2 / 3, 12);
    expect(park.meanTtdSec).toBe(10);
    expect(park.medianTtdSec).toBe(10);

    const vend = m.classes.find((c) => c.classId === 'street_vending')!;
    expect(vend).toMatchObject({ tp: 1, fp: 0, fn: 1, duplicates: 0, precision: 1, recall: 0.5, meanTtdSec: 30, medianTtdSec: 30 });
    expect(vend.f1).toBeCloseTo(2 / 3, 12);
  });

  it('micro-averages the total over all classes', () => {
    expect(m.total).toMatchObject({ classId: 'total', tp: 3, fp: 1, fn: 1, duplicates: 1, clips: 2 });
    expect(m.total.precision).toBe(0.6);
    expect(m.total.recall).toBe(0.75);
    expect(m.total.f1).toBeCloseTo((2 * 0.6 * 0.75) / 1.35, 12);
    expect(m.total.meanTtdSec).toBeCloseTo(50 / 3, 12);
    expect(m.total.medianTtdSec).toBe(12);
  });

  it('builds both confusion tables (the missed vending episode in clip A was covered in time by a parking case)', () => {
    expect(m.confusion.predicted).toEqual({ illegal_parking: { illegal_parking: 3, none: 1 }, street_vending: { street_vending: 1 } });
    expect(m.confusion.truth).toEqual({
      illegal_parking: { illegal_parking: 2 },
      street_vending: { illegal_parking: 1, street_vending: 1 },
    });
  });

  it('undefined ratios are null, not 0 or NaN', () => {
    const neg = computeMetrics([matchClip([], [], [{ classId: 'crowd_gathering' }])]);
    expect(neg.classes).toEqual([
      expect.objectContaining({ classId: 'crowd_gathering', precision: null, recall: null, f1: null, meanTtdSec: null, clips: 1 }),
    ]);
    const allMissed = computeMetrics([matchClip([], [truth('c', 0, 10)])]).classes[0]!;
    expect([allMissed.precision, allMissed.recall, allMissed.f1]).toEqual([null, 0, null]);
  });
});

describe('helpers', () => {
  it('f1 of zeros is 0, of a missing side null', () => {
    expect(f1Of(0, 0)).toBe(0);
    expect(f1Of(null, 1)).toBeNull();
    expect(f1Of(1, 0.5)).toBeCloseTo(2 / 3, 12);
  });
});

describe('gateFailures', () => {
  const m = computeMetrics([
    matchClip([pred('p', 'illegal_parking', 0, 10, 5), pred('q', 'illegal_parking', 50, 60, 55)], [truth('illegal_parking', 0, 10)]),
    matchClip([], [], [{ classId: 'crowd_gathering' }]),
  ]);
  it('names each class below the gate; undefined scores never fail', () => {
    expect(gateFailures(m.classes, { minPrecision: 0.6, minRecall: 1 })).toEqual(['illegal_parking: precision 0.500 < 0.6']);
    expect(gateFailures(m.classes, { minPrecision: 0.5, minRecall: 1 })).toEqual([]);
    expect(gateFailures(m.classes, {})).toEqual([]);
  });
});
