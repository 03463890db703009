import { describe, expect, it } from 'vitest';
import type { ViolationEvent } from '../types.js';
import { matchClip, overlapSec, predictedEpisodes, withinTolerance, type PredictedEpisode, type TruthEpisode } from './match.js';

const pred = (
  episodeId: string,
  classId: string,
  zoneId: string | null,
  start: number,
  end: number,
  confirmedAt = start + 5,
): PredictedEpisode => ({ episodeId, classId, zoneId, start, end, confirmedAt });
const truth = (classId: string, zoneId: string | null, start: number, end: number, extra: Partial<TruthEpisode> = {}): TruthEpisode => ({
  classId,
  zoneId,
  start,
  end,
  ...extra,
});

function ev(
  episodeId: string,
  transition: ViolationEvent['transition'],
  streamTime: number,
  start: number,
  end: number | null,
  classId = 'illegal_parking',
  zoneId = 'kerb',
): ViolationEvent {
  return {
    id: `${episodeId}.${transition}.${streamTime}`,
    episodeId,
    cameraId: 'cam',
    classId,
    transition,
    streamTime,
    wallTime: 0,
    start,
    end,
    boxes: [],
    reason: {
      classId,
      zoneId,
      zoneType: 'no_parking',
      subject: 't1',
      trackIds: [1],
      dwellSec: 0,
      hits: 0,
      window: 0,
      medianScore: 0,
      thresholds: {},
      firstSeen: start,
      lastSeen: start,
      frameTimes: [],
    },
  };
}

describe('predictedEpisodes', () => {
  it('keeps only episodes that reached confirmed, with confirm time, zone and end', () => {
    const events = [
      ev('a', 'candidate', 10, 10, null),
      ev('a', 'confirmed', 18, 10, null),
      ev('a', 'active', 18.5, 10, null),
      ev('a', 'cleared', 40, 10, 33),
      ev('b', 'candidate', 12, 12, null, 'street_vending', 'plaza'),
      ev('b', 'cleared', 20, 12, 14, 'street_vending', 'plaza'),
      ev('c', 'confirmed', 50, 41, null, 'street_vending', 'plaza'),
    ];
    expect(predictedEpisodes(events, 60)).toEqual([
      { episodeId: 'a', classId: 'illegal_parking', zoneId: 'kerb', start: 10, end: 33, confirmedAt: 18 },
      // Never cleared: runs to the clip end.
      { episodeId: 'c', classId: 'street_vending', zoneId: 'plaza', start: 41, end: 60, confirmedAt: 50 },
    ]);
  });

  it('an episode resumed after a clear (merge window) stays open to the clip end', () => {
    const events = [ev('a', 'confirmed', 18, 10, null), ev('a', 'cleared', 30, 10, 25), ev('a', 'active', 35, 10, null)];
    expect(predictedEpisodes(events, 50)[0]!.end).toBe(50);
  });
});

describe('withinTolerance / overlapSec', () => {
  const t = truth('x', null, 10, 20);
  it('matches at a gap exactly equal to the tolerance and not beyond it', () => {
    expect(withinTolerance({ start: 0, end: 8 }, t, 2)).toBe(true);
    expect(withinTolerance({ start: 0, end: 7.99 }, t, 2)).toBe(false);
    expect(withinTolerance({ start: 22, end: 30 }, t, 2)).toBe(true);
    expect(withinTolerance({ start: 22.01, end: 30 }, t, 2)).toBe(false);
  });
  it('uses per-side tolerances from the truth when given', () => {
    const tt = truth('x', null, 10, 20, { toleranceBeforeSec: 0, toleranceAfterSec: 15 });
    expect(withinTolerance({ start: 0, end: 9.5 }, tt, 2)).toBe(false);
    expect(withinTolerance({ start: 35, end: 40 }, tt, 2)).toBe(true);
    expect(withinTolerance({ start: 35.1, end: 40 }, tt, 2)).toBe(false);
  });
  it('overlap is shared seconds, negative for a gap', () => {
    expect(overlapSec({ start: 5, end: 15 }, t)).toBe(5);
    expect(overlapSec({ start: 0, end: 8 }, t)).toBe(-2);
  });
});

describe('matchClip', () => {
  it('one prediction per truth; further overlapping predictions are duplicates, not false positives', () => {
    const truths = [truth('illegal_parking', 'kerb', 10, 40)];
    const preds = [
      pred('p1', 'illegal_parking', 'kerb', 11, 25, 19),
      pred('p2', 'illegal_parking', 'kerb', 26, 40, 34),
      pred('p3', 'illegal_parking', 'kerb', 60, 70),
    ];
    const m = matchClip(preds, truths);
    expect(m.matches.map((x) => [x.prediction.episodeId, x.truthIndex, x.overlapSec, x.timeToDetectSec])).toEqual([['p1', 0, 14, 9]]);
    expect(m.duplicates.map((d) => [d.prediction.episodeId, d.truthIndex])).toEqual([['p2', 0]]);
    expect(m.falsePositives.map((p) => p.episodeId)).toEqual(['p3']);
    expect(m.falseNegatives).toEqual([]);
  });

  it('the larger overlap wins the truth when two predictions compete', () => {
    const m = matchClip([pred('short', 'c', 'z', 10, 12, 11), pred('long', 'c', 'z', 12, 30, 20)], [truth('c', 'z', 10, 30)]);
    expect(m.matches[0]!.prediction.episodeId).toBe('long');
    expect(m.duplicates[0]!.prediction.episodeId).toBe('short');
  });

  it('re-assigns so that a prediction spanning two truths does not leave one unmatched', () => {
    // Greedy alone would give "wide" the first truth (largest overlap) and leave "narrow" as a duplicate.
    const truths = [truth('c', 'z', 0, 20), truth('c', 'z', 25, 30)];
    const preds = [pred('wide', 'c', 'z', 0, 30, 5), pred('narrow', 'c', 'z', 2, 18, 7)];
    const m = matchClip(preds, truths);
    expect(m.matches.map((x) => [x.prediction.episodeId, x.truthIndex]).sort()).toEqual([
      ['narrow', 0],
      ['wide', 1],
    ]);
    expect(m.duplicates).toEqual([]);
    expect(m.falseNegatives).toEqual([]);
  });

  it('a prediction in another zone does not match a truth that names its zone', () => {
    const m = matchClip([pred('p', 'illegal_parking', 'bus_stop', 10, 40)], [truth('illegal_parking', 'kerb', 10, 40)]);
    expect(m.matches).toEqual([]);
    expect(m.falsePositives.map((p) => p.episodeId)).toEqual(['p']);
    expect(m.falseNegatives.map((f) => f.truthIndex)).toEqual([0]);
    // Same class overlapped in time, so the confusion row still points at it.
    expect(m.predictionConfusion).toEqual([{ classId: 'illegal_parking', other: 'illegal_parking' }]);
  });

  it('a truth without a zone accepts any zone', () => {
    const m = matchClip([pred('p', 'c', 'anywhere', 10, 40)], [truth('c', null, 10, 40)]);
    expect(m.matches).toHaveLength(1);
  });

  it('tolerance edges: a prediction starting exactly tolerance after the truth end matches, a hair later is a false positive', () => {
    const t = [truth('c', 'z', 10, 20)];
    expect(matchClip([pred('p', 'c', 'z', 22, 30)], t, [], { toleranceSec: 2 }).matches).toHaveLength(1);
    const late = matchClip([pred('p', 'c', 'z', 22.5, 30)], t, [], { toleranceSec: 2 });
    expect(late.matches).toHaveLength(0);
    expect(late.falsePositives).toHaveLength(1);
    expect(late.falseNegatives).toHaveLength(1);
  });

  it('time to detect is confirm time minus truth start, and late confirmations are flagged', () => {
    const m = matchClip([pred('p', 'c', 'z', 12, 40, 31)], [truth('c', 'z', 10, 40, { lateStartSec: 20 })]);
    expect(m.matches[0]!.timeToDetectSec).toBe(21);
    expect(m.matches[0]!.late).toBe(true);
  });

  it('predictions of classes the clip does not score are ignored; negatives make a class scored', () => {
    const preds = [pred('a', 'crowd_gathering', 'lawn', 0, 10), pred('b', 'illegal_parking', 'lot', 0, 10)];
    const m = matchClip(preds, [], [{ classId: 'illegal_parking', zoneId: 'lot' }]);
    expect(m.scoredClasses).toEqual(['illegal_parking']);
    expect(m.ignored.map((p) => p.episodeId)).toEqual(['a']);
    expect(m.falsePositives.map((p) => p.episodeId)).toEqual(['b']);
    expect(m.predictionConfusion).toEqual([{ classId: 'illegal_parking', other: 'none' }]);
  });

  it('confusion records the other class a wrong prediction overlapped and what covered a missed truth', () => {
    const truths = [truth('street_vending', 'plaza', 0, 30), truth('illegal_parking', 'kerb', 50, 60)];
    const preds = [pred('m', 'mobile_vendor', 'plaza', 5, 25)];
    const m = matchClip(preds, truths, [{ classId: 'mobile_vendor' }]);
    expect(m.predictionConfusion).toEqual([{ classId: 'mobile_vendor', other: 'street_vending' }]);
    expect(m.truthConfusion).toEqual([
      { classId: 'street_vending', other: 'mobile_vendor' },
      { classId: 'illegal_parking', other: 'none' },
    ]);
  });
});
