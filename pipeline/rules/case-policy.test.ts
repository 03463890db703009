import { describe, expect, it } from 'vitest';
import type { Box, DebounceState, ReasonRecord, ViolationEvent } from '../types.js';
import {
  boxOverlap,
  decideCase,
  evidenceAfterCreate,
  MERGE_IOU,
  mergeDetails,
  mergeIouOf,
  mergeNote,
  needsEpisodeCase,
  wallAt,
  type CaseDecision,
  type EpisodeCase,
} from './case-policy.js';

const WALL0 = 1_700_000_000_000;
const BOX: Box = { x1: 100, y1: 100, x2: 200, y2: 160 };
const KEY = 'cam1:run:ep_1';

function reason(over: Partial<ReasonRecord> = {}): ReasonRecord {
  return {
    classId: 'illegal_parking',
    zoneId: 'np',
    zoneType: 'no_parking',
    subject: 't1',
    trackIds: [1],
    dwellSec: 20,
    hits: 10,
    window: 10,
    medianScore: 0.8,
    thresholds: { minDwellSec: 20, mergeWindowSec: 600, cooldownSec: 900 },
    firstSeen: 0,
    lastSeen: 20,
    frameTimes: [18, 19, 20],
    resumed: false,
    ...over,
  };
}

/** An event at stream time `at` (s) of an episode that started at 0; wall clock WALL0 at stream 0. */
function event(
  transition: DebounceState,
  at: number,
  over: { reason?: Partial<ReasonRecord>; end?: number | null; boxes?: Box[] } = {},
): ViolationEvent {
  return {
    id: `ep_1.${at}`,
    episodeId: 'ep_1',
    cameraId: 'cam1',
    classId: 'illegal_parking',
    transition,
    streamTime: at,
    wallTime: WALL0 + at * 1000,
    start: 0,
    end: over.end ?? null,
    boxes: over.boxes ?? [BOX],
    reason: reason(over.reason),
  };
}

const theCase: EpisodeCase = { id: 'case_1', lastSeenAt: WALL0 + 40_000, boxes: [BOX] };

describe('case policy', () => {
  // One row per (transition, what the store knows): the decision, without I/O.
  const table: [string, ViolationEvent, EpisodeCase | null, CaseDecision][] = [
    ['candidate: nothing', event('candidate', 0), null, { action: 'none', why: 'candidate: not an operator-visible stage' }],
    [
      'warning: notice with the grace from the record',
      event('warning', 5, { reason: { thresholds: { warnAfterSec: 5, graceSec: 30, mergeWindowSec: 600 } } }),
      null,
      { action: 'notice', graceSec: 30 },
    ],
    ['warning without grace: notice, grace 0', event('warning', 5), null, { action: 'notice', graceSec: 0 }],
    [
      'confirmed: create, back-dated to the episode start, merge window from the record',
      event('confirmed', 20),
      null,
      { action: 'create', firstSeenAt: WALL0, lastSeenAt: WALL0 + 20_000, mergeWindowMs: 600_000, mergeIou: MERGE_IOU },
    ],
    ['active after confirmation: nothing', event('active', 20.5), null, { action: 'none', why: 'still present after confirmation' }],
    [
      'active resumed, no case for the episode: nothing',
      event('active', 60, { reason: { resumed: true } }),
      null,
      { action: 'none', why: 'resumed, but no case holds this episode' },
    ],
    [
      'active resumed with its case: merge, recording the reason, IoU, window and gap',
      event('active', 60, { reason: { resumed: true, frameTimes: [52, 53, 60] }, boxes: [{ x1: 110, y1: 100, x2: 210, y2: 160 }] }),
      theCase,
      {
        action: 'merge',
        caseId: 'case_1',
        details: {
          episodeKey: KEY,
          rule: 'resumed',
          iou: 0.818,
          minIou: 0,
          windowMs: 600_000,
          gapMs: 12_000,
          firstSeenAt: WALL0 + 52_000,
          lastSeenAt: WALL0 + 60_000,
          reason: reason({ resumed: true, frameTimes: [52, 53, 60] }),
        },
      },
    ],
    [
      'cleared with a case: touch at the episode end',
      event('cleared', 45, { end: 40 }),
      theCase,
      { action: 'touch', caseId: 'case_1', lastSeenAt: WALL0 + 40_000 },
    ],
    [
      'cleared without a case (left within grace): resolve the notice',
      event('cleared', 45, { end: 40 }),
      null,
      { action: 'resolve-notice' },
    ],
  ];
  it.each(table)('%s', (_name, ev, known, expected) => {
    expect(decideCase(ev, known, KEY)).toEqual(expected);
  });

  it('the typed resumed flag decides, not the note', () => {
    // A note that reads like a resumption but no flag: not a reappearance (the old regex would have said yes).
    expect(decideCase(event('active', 30, { reason: { note: 'resumed within mergeWindowSec 600: …' } }), theCase, KEY).action).toBe('none');
    expect(
      decideCase(event('active', 30, { reason: { note: 'still present after confirmation', resumed: true } }), theCase, KEY).action,
    ).toBe('merge');
  });

  it('asks the store only when the decision depends on it', () => {
    expect((['candidate', 'warning', 'confirmed', 'active', 'cleared'] as const).map((t) => needsEpisodeCase(event(t, 30)))).toEqual([
      false,
      false,
      false,
      false,
      true,
    ]);
    expect(needsEpisodeCase(event('active', 30, { reason: { resumed: true } }))).toBe(true);
  });

  it('the overlap rule: IoU at or above the minimum, else null; the best pair of boxes counts', () => {
    const far: Box = { x1: 400, y1: 300, x2: 480, y2: 360 };
    expect(mergeIouOf([BOX], [far])).toBeNull();
    expect(mergeIouOf([BOX], [BOX])).toBe(1);
    expect(mergeIouOf([far, BOX], [{ x1: 105, y1: 100, x2: 205, y2: 162 }])).toBeCloseTo(0.877, 3);
    // 50 px shift of a 100 px box: IoU 1/3, just above 0.3 and below 0.4.
    const shifted: Box = { x1: 150, y1: 100, x2: 250, y2: 160 };
    expect(mergeIouOf([BOX], [shifted])).toBeCloseTo(1 / 3, 6);
    expect(mergeIouOf([BOX], [shifted], 0.4)).toBeNull();
    expect(boxOverlap([], [BOX])).toBe(0);
  });

  it('merge details and their history line for both rules', () => {
    const d = mergeDetails({
      rule: 'overlap',
      episodeKey: 'k2',
      iou: 0.87654,
      minIou: 0.3,
      windowMs: 60_000,
      caseLastSeenAt: WALL0 + 5000,
      firstSeenAt: WALL0 + 30_000,
      lastSeenAt: WALL0 + 35_000,
      reason: reason(),
    });
    expect(d).toEqual({
      episodeKey: 'k2',
      rule: 'overlap',
      iou: 0.877,
      minIou: 0.3,
      windowMs: 60_000,
      gapMs: 25_000,
      firstSeenAt: WALL0 + 30_000,
      lastSeenAt: WALL0 + 35_000,
      reason: reason(),
    });
    expect(mergeNote(d)).toBe('reappearance merged (IoU 0.88 ≥ 0.3, within 60 s)');
    expect(mergeNote({ ...d, rule: 'resumed', minIou: 0 })).toBe('episode resumed after clearing (IoU 0.88, within 60 s)');
  });

  it('evidence after a creation and the wall clock of a stream time', () => {
    expect((['created', 'merged', 'existing'] as const).map(evidenceAfterCreate)).toEqual(['case', 'reappearance', null]);
    expect(wallAt({ wallTime: WALL0 + 20_000, streamTime: 20 }, 0)).toBe(WALL0);
    expect(wallAt({ wallTime: WALL0 + 20_500, streamTime: 20.5 }, 12.25)).toBe(WALL0 + 12_250);
  });
});
