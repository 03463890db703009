import { describe, expect, it } from 'vitest';
import {
  episodeIdFor,
  finish,
  initialState,
  isForgettable,
  step,
  type DebounceEvent,
  type DebounceKey,
  type DebounceParams,
  type Observation,
  type SubjectState,
} from './debounce.js';

const KEY: DebounceKey = { cameraId: 'cam1', classId: 'illegal_parking', zoneId: 'np1', zoneType: 'no_parking', subject: 't7' };

// 1 observation per second; small numbers so every expectation can be worked out by hand.
const P: DebounceParams = {
  minScore: 0.3,
  minMedianScore: 0.5,
  exitMedianScore: 0.4,
  minDwellSec: 10,
  minHits: 4,
  window: 6,
  maxGapSec: 3,
  cooldownSec: 20,
  mergeWindowSec: 10,
};

const box = { x1: 10, y1: 10, x2: 50, y2: 40 };
const hit = (t: number, score = 0.8): Observation => ({
  time: t,
  wallTime: 1_700_000_000_000 + t * 1000,
  hit: score >= P.minScore,
  score,
  boxes: [box],
  trackIds: [7],
});
const miss = (t: number): Observation => ({ time: t, wallTime: 1_700_000_000_000 + t * 1000, hit: false });

/** Runs observations through one machine; returns all events and the final state. */
function run(obs: Observation[], p: DebounceParams = P, state: SubjectState = initialState(KEY)) {
  const events: DebounceEvent[] = [];
  let s = state;
  for (const o of obs) {
    const r = step(s, o, p);
    s = r.state;
    events.push(...r.events);
  }
  return { events, state: s };
}

const range = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, i) => a + i);
const summary = (evs: DebounceEvent[]) => evs.map((e) => `${e.transition}@${e.time}`);

describe('debounce step', () => {
  it('confirms at the frame where dwell reaches minDwellSec, then goes active', () => {
    const { events, state } = run(range(0, 12).map((t) => hit(t)));
    expect(summary(events)).toEqual(['candidate@0', 'confirmed@10', 'active@11']);
    const confirmed = events[1]!;
    expect(confirmed.episodeId).toBe(episodeIdFor(KEY, 0));
    expect(confirmed.id).toBe(`${episodeIdFor(KEY, 0)}.2`);
    expect(confirmed.start).toBe(0);
    expect(confirmed.end).toBeNull();
    expect(confirmed.level).toBe('confirmed');
    expect(confirmed.reason).toMatchObject({
      classId: 'illegal_parking',
      zoneId: 'np1',
      zoneType: 'no_parking',
      subject: 't7',
      trackIds: [7],
      dwellSec: 10,
      hits: 6,
      window: 6,
      medianScore: 0.8,
      firstSeen: 0,
      lastSeen: 10,
      frameTimes: [5, 6, 7, 8, 9, 10],
    });
    expect(confirmed.reason.thresholds).toMatchObject({ minDwellSec: 10, minHits: 4, window: 6, minMedianScore: 0.5 });
    expect(confirmed.boxes).toEqual([box]);
    expect(state.phase).toBe('active');
  });

  it('never confirms a flickering subject (hit every other frame: 3 of 6 < minHits 4)', () => {
    const obs = range(0, 40).map((t) => (t % 2 === 0 ? hit(t) : miss(t)));
    const { events, state } = run(obs);
    expect(summary(events)).toEqual(['candidate@0']);
    expect(state.phase).toBe('candidate');
  });

  it('does not let one high-score frame among weak ones confirm (median threshold)', () => {
    // Scores 0.35 are hits (≥ minScore 0.3) but their median is below minMedianScore 0.5.
    const obs = range(0, 30).map((t) => hit(t, t === 12 ? 0.95 : 0.35));
    const { events } = run(obs);
    expect(summary(events)).toEqual(['candidate@0']);
  });

  it('weak detections below minScore pull the median down even though they are not hits', () => {
    // One strong hit (0.9) then two weak sightings (0.2 < minScore): 2 hits per window pass minHits 2,
    // but the median of [0.9,0.2,0.2,0.9,0.2,0.2] is 0.2. Were weak frames ignored it would be 0.9.
    const p = { ...P, minHits: 2 };
    const obs = range(0, 30).map((t) => hit(t, t % 3 === 0 ? 0.9 : 0.2));
    expect(summary(run(obs, p).events)).toEqual(['candidate@0']);
  });

  it('keeps the episode over a gap up to maxGapSec and clears after a longer one', () => {
    const obs = [...range(0, 12).map((t) => hit(t)), miss(13), miss(14), miss(15), hit(16), ...range(17, 22).map(miss)];
    const { events, state } = run(obs);
    expect(summary(events)).toEqual(['candidate@0', 'confirmed@10', 'active@11', 'cleared@20']);
    const cleared = events[3]!;
    expect(cleared.episodeId).toBe(events[0]!.episodeId);
    expect(cleared.end).toBe(16);
    expect(cleared.reason.note).toBe('absent for 4 s > maxGapSec 3');
    expect(state.phase).toBe('cleared');
    expect(state.clearedAt).toBe(20);
  });

  it('lets a candidate lapse after a gap without opening an episode', () => {
    const { events, state } = run([hit(0), hit(1), miss(2), miss(3), miss(4), miss(5)]);
    expect(summary(events)).toEqual(['candidate@0', 'cleared@5']);
    expect(events[1]!.level).toBe('candidate');
    expect(events[1]!.reason.note).toMatch(/^candidate lapsed/);
    expect(state.phase).toBe('idle');
    expect(isForgettable(state, 5, P)).toBe(true);
  });

  it('a reappearance within the merge window continues the same episode', () => {
    const first = [...range(0, 12).map((t) => hit(t)), ...range(13, 16).map(miss)]; // cleared at 16
    const back = range(20, 25).map((t) => hit(t)); // 4 s after clearing ≤ mergeWindowSec 10
    const { events } = run([...first, ...back]);
    expect(summary(events)).toEqual(['candidate@0', 'confirmed@10', 'active@11', 'cleared@16', 'active@23']);
    const ids = new Set(events.map((e) => e.episodeId));
    expect(ids.size).toBe(1);
    expect(events[4]!.reason.note).toMatch(/^resumed within mergeWindowSec 10/);
    // The typed flag consumers read: only the resumed event carries it.
    expect(events.map((e) => e.reason.resumed)).toEqual([false, false, false, false, true]);
    expect(events[4]!.start).toBe(0);
  });

  it('ignores the subject during cooldown, then starts a new episode with a new id', () => {
    const first = [...range(0, 12).map((t) => hit(t)), ...range(13, 16).map(miss)]; // cleared at 16
    // Back at 30: 14 s after clearing (> merge 10, ≤ cooldown 20) → quiet until 36 (> 20 s).
    const back = range(30, 50).map((t) => hit(t));
    const { events } = run([...first, ...back]);
    expect(summary(events)).toEqual([
      'candidate@0',
      'confirmed@10',
      'active@11',
      'cleared@16',
      'candidate@37',
      'confirmed@47',
      'active@48',
    ]);
    expect(events[4]!.episodeId).toBe(episodeIdFor(KEY, 37));
    expect(events[4]!.episodeId).not.toBe(events[0]!.episodeId);
  });

  it('emits a warning before escalating to confirmed after warnAfterSec + graceSec', () => {
    const p = { ...P, minDwellSec: 100, warnAfterSec: 5, graceSec: 4 };
    const { events } = run(
      range(0, 10).map((t) => hit(t)),
      p,
    );
    expect(summary(events)).toEqual(['candidate@0', 'warning@5', 'confirmed@9', 'active@10']);
    expect(events[1]!.level).toBe('warning');
    expect(events[2]!.reason.note).toBe('dwell 9 s, 6/6 hits, median 0.8; dwell ≥ 9 s');
  });

  it('a warned subject that leaves and does not come back gets a cleared event, no confirmation', () => {
    const p = { ...P, minDwellSec: 100, warnAfterSec: 5, graceSec: 20 };
    const { events } = run([...range(0, 6).map((t) => hit(t)), ...range(7, 11).map(miss)], p);
    expect(summary(events)).toEqual(['candidate@0', 'warning@5', 'cleared@10']);
    expect(events[2]!.level).toBe('warning');
  });

  it('holds an open episode while the median stays above the exit score (hysteresis), clears below it', () => {
    // Confirmed at 0.8; then 0.45 (below enter 0.5, above exit 0.4) keeps it; 0.32 drags the median under 0.4.
    const obs = [...range(0, 10).map((t) => hit(t)), ...range(11, 30).map((t) => hit(t, 0.45))];
    const mid = run(obs);
    expect(summary(mid.events)).toEqual(['candidate@0', 'confirmed@10', 'active@11']);
    const after = run(
      range(31, 40).map((t) => hit(t, 0.32)),
      P,
      mid.state,
    );
    // Window of 6 scores: at t=33 it holds [0.45,0.45,0.45,0.32,0.32,0.32] → median 0.385 < 0.4.
    expect(summary(after.events)).toEqual(['cleared@33']);
    expect(after.events[0]!.reason.note).toBe('median score 0.385 < exitMedianScore 0.4');
    expect(after.events[0]!.end).toBe(33);
  });

  it('is pure and deterministic: same inputs, same events; input state untouched', () => {
    const obs = [...range(0, 12).map((t) => hit(t)), ...range(13, 17).map(miss)];
    const a = run(obs);
    const b = run(obs);
    expect(b.events).toEqual(a.events);
    const s0 = initialState(KEY);
    const snapshot = structuredClone(s0);
    step(s0, hit(0), P);
    expect(s0).toEqual(snapshot);
  });

  it('rejects observations that go back in time', () => {
    const { state } = run([hit(5)]);
    expect(() => step(state, hit(4), P)).toThrow(/observation at 4 s is before the previous one at 5 s/);
  });

  it('finish() clears an open episode with end = last hit, and lapses a candidate', () => {
    const open = run(range(0, 12).map((t) => hit(t)));
    const f = finish(open.state, 13, 0, P, 'end of stream');
    expect(summary(f.events)).toEqual(['cleared@13']);
    expect(f.events[0]!.end).toBe(12);
    expect(f.events[0]!.reason.note).toBe('end of stream');
    const cand = run([hit(0), hit(1)]);
    const g = finish(cand.state, 2, 0, P, 'end of stream');
    expect(g.events.map((e) => [e.transition, e.level])).toEqual([['cleared', 'candidate']]);
    expect(g.state.phase).toBe('idle');
  });

  it('a back-dated run needs the hit share of the frames since its first hit, at least of those the confirmation dwell holds', () => {
    // A static blob first reported at 42 s, present since 32 s (10 s of ageing), dwell 8 s.
    const p: DebounceParams = { ...P, minDwellSec: 8, minHits: 12, window: 20, maxGapSec: 10 };
    const at = (t: number): Observation => ({ ...hit(t), since: 32 });
    // 0.5 fps: the 8 s dwell holds 5 frames, 12/20 of them is 3 hits → confirmed at the 3rd (46 s),
    // back-dated to 32. Counting the 5 unreportable frames before 42 s too, it needed 5 hits by 46 s
    // and 7.5 frames after the first report in general (not before 57 s).
    const slow = run([42, 44, 46, 48].map(at), p);
    expect(summary(slow.events)).toEqual(['candidate@42', 'confirmed@46', 'active@48']);
    expect(slow.events[1]!.start).toBe(32);
    // 2 fps: 17 frames in 8 s → 11 hits (at most minHits 12): the 11th hit is at 47 s.
    const fast = run(
      range(0, 12).map((i) => at(42 + i / 2)),
      p,
    );
    expect(summary(fast.events).slice(0, 2)).toEqual(['candidate@42', 'confirmed@47']);
    // Not back-dated: the share of the whole dwell, as before (8 s at 0.5 fps: 5 frames, 3 hits).
    const plain = run(
      [42, 44, 46, 48, 50].map((t) => hit(t)),
      p,
    );
    expect(summary(plain.events)).toEqual(['candidate@42', 'confirmed@50']);
  });
});
