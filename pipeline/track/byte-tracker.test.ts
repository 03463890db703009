import { describe, expect, it } from 'vitest';
import type { Box, Detection, Track } from '../types.js';
import { iou } from '../geometry/geometry.js';
import { ByteTracker, stationaryShift, votedLabel } from './byte-tracker.js';

function det(box: Box, score = 0.9, label = 'person', frameTime = 0): Detection {
  return { label, classId: label === 'person' ? 0 : 2, score, box, frameTime, model: 'test' };
}

function rect(x: number, y: number, w: number, h: number): Box {
  return { x1: x, y1: y, x2: x + w, y2: y + h };
}

const summary = (tracks: Track[]) => tracks.map((t) => ({ id: t.id, state: t.state, hits: t.hits }));

describe('ByteTracker confirmation and loss', () => {
  it('confirms a track exactly at minHits and keeps counting hits', () => {
    const tr = new ByteTracker();
    const b = rect(100, 100, 40, 80);
    expect(summary(tr.update([det(b)], 0))).toEqual([{ id: 1, state: 'tentative', hits: 1 }]);
    expect(summary(tr.update([det(b)], 0.5))).toEqual([{ id: 1, state: 'tentative', hits: 2 }]);
    expect(summary(tr.update([det(b)], 1))).toEqual([{ id: 1, state: 'confirmed', hits: 3 }]);
    expect(summary(tr.update([det(b)], 1.5))).toEqual([{ id: 1, state: 'confirmed', hits: 4 }]);

    const quick = new ByteTracker({ minHits: 1 });
    expect(summary(quick.update([det(b)], 0))).toEqual([{ id: 1, state: 'confirmed', hits: 1 }]);
  });

  it('drops a tentative track that misses one frame', () => {
    const tr = new ByteTracker();
    const b = rect(100, 100, 40, 80);
    tr.update([det(b)], 0);
    tr.update([det(b)], 0.5);
    expect(tr.update([], 1)).toEqual([]);
    expect(summary(tr.update([det(b)], 1.5))).toEqual([{ id: 2, state: 'tentative', hits: 1 }]);
  });

  it('keeps the id of a moving object through a 3-frame occlusion', () => {
    const tr = new ByteTracker();
    // 30 px/s to the right at 2 fps; after the gap the box no longer overlaps where it was last
    // seen, so only the motion prediction can re-find it.
    const at = (k: number) => rect(15 * k, 100, 40, 80);
    for (let k = 0; k < 4; k++) tr.update([det(at(k))], k / 2);
    for (let k = 4; k < 7; k++) {
      const tracks = tr.update([], k / 2);
      expect(summary(tracks)).toEqual([{ id: 1, state: 'lost', hits: 4 }]);
      expect(tracks[0]!.lastSeen).toBe(1.5);
      expect(tracks[0]!.box).toEqual(at(3));
    }
    expect(iou(at(3), at(7))).toBe(0);
    const back = tr.update([det(at(7))], 3.5);
    expect(summary(back)).toEqual([{ id: 1, state: 'confirmed', hits: 5 }]);
    expect(back[0]!.box).toEqual(at(7));
    expect(back[0]!.firstSeen).toBe(0);
  });

  it('removes a lost track after lostTimeoutSec and starts a new id afterwards', () => {
    const tr = new ByteTracker({ lostTimeoutSec: 3 });
    const b = rect(200, 50, 60, 40);
    for (let k = 0; k < 3; k++) tr.update([det(b)], k / 2); // confirmed, lastSeen 1.0
    expect(summary(tr.update([], 4))).toEqual([{ id: 1, state: 'lost', hits: 3 }]); // 3.0 s since seen
    expect(tr.update([], 4.5)).toEqual([]);
    expect(summary(tr.update([det(b)], 5))).toEqual([{ id: 2, state: 'tentative', hits: 1 }]);
  });

  it('re-finds a lost track exactly at the timeout boundary', () => {
    const tr = new ByteTracker({ lostTimeoutSec: 3 });
    const b = rect(200, 50, 60, 40);
    for (let k = 0; k < 3; k++) tr.update([det(b)], k / 2);
    tr.update([], 1.5);
    expect(summary(tr.update([det(b)], 4))).toEqual([{ id: 1, state: 'confirmed', hits: 4 }]);
  });
});

describe('ByteTracker association', () => {
  it('does not swap ids when two same-class boxes cross', () => {
    const tr = new ByteTracker();
    // A walks right, B walks left, 30 px/s each at 2 fps; they overlap for several frames.
    const a = (k: number) => rect(15 * k, 100, 40, 80);
    const b = (k: number) => rect(232 - 15 * k, 100, 40, 80);
    // Matching on last-seen boxes alone would swap at k = 8: A's last box overlaps B's new box more.
    expect(iou(a(7), b(8))).toBeGreaterThan(iou(a(7), a(8)));
    expect(iou(b(7), a(8))).toBeGreaterThan(iou(b(7), b(8)));
    for (let k = 0; k <= 16; k++) {
      // Alternate the detection order so the result cannot rely on it.
      const dets = k % 2 ? [det(b(k)), det(a(k))] : [det(a(k)), det(b(k))];
      const tracks = tr.update(dets, k / 2);
      expect(tracks.map((t) => [t.id, t.box])).toEqual([
        [1, a(k)],
        [2, b(k)],
      ]);
    }
  });

  it('only matches detections to tracks of the same label (or label family)', () => {
    const tr = new ByteTracker();
    const b = rect(100, 100, 80, 60);
    for (let k = 0; k < 3; k++) tr.update([det(b, 0.9, 'car')], k / 2);
    const tracks = tr.update([det(b, 0.9, 'person')], 1.5);
    expect(tracks.map((t) => [t.id, t.label, t.state])).toEqual([
      [1, 'car', 'lost'],
      [2, 'person', 'tentative'],
    ]);
  });

  it('continues a confirmed track with low-score detections', () => {
    const tr = new ByteTracker();
    const b = rect(100, 100, 40, 80);
    for (let k = 0; k < 3; k++) tr.update([det(b, 0.8)], k / 2);
    const tracks = tr.update([det(rect(102, 101, 40, 80), 0.3)], 1.5);
    expect(summary(tracks)).toEqual([{ id: 1, state: 'confirmed', hits: 4 }]);
    expect(tracks[0]!.score).toBe(0.3);
    expect(tracks[0]!.scores).toEqual([0.8, 0.8, 0.8, 0.3]);
  });

  it('never starts a track from low-score or below-newTrackScore detections', () => {
    const tr = new ByteTracker();
    const b = rect(100, 100, 40, 80);
    for (let k = 0; k < 6; k++) {
      // 0.3 is a low-pass score (< highScore 0.4); 0.42 is high but under newTrackScore 0.45.
      expect(tr.update([det(b, 0.3), det(rect(300, 100, 40, 80), 0.42)], k / 2)).toEqual([]);
    }
    // Detections under lowScore are ignored entirely.
    for (let k = 0; k < 3; k++) tr.update([det(b, 0.9)], 3 + k / 2);
    expect(summary(tr.update([det(b, 0.05)], 4.5))).toEqual([{ id: 1, state: 'lost', hits: 3 }]);
  });

  it('does not let low-score detections revive a lost track or feed a tentative one', () => {
    const tr = new ByteTracker();
    const b = rect(100, 100, 40, 80);
    for (let k = 0; k < 3; k++) tr.update([det(b)], k / 2);
    tr.update([], 1.5);
    expect(summary(tr.update([det(b, 0.3)], 2))).toEqual([{ id: 1, state: 'lost', hits: 3 }]);

    const t2 = new ByteTracker();
    t2.update([det(b)], 0);
    expect(t2.update([det(b, 0.3)], 0.5)).toEqual([]);
  });

  it('requires lowMatchIou for the low pass', () => {
    const tr = new ByteTracker({ lowMatchIou: 0.5 });
    const b = rect(100, 100, 40, 80);
    for (let k = 0; k < 3; k++) tr.update([det(b)], k / 2);
    // Shifted 15 px: IoU 25/55 ≈ 0.45 would pass the high pass (0.3) but not the low pass.
    const shifted = rect(115, 100, 40, 80);
    expect(iou(b, shifted)).toBeCloseTo(25 / 55, 12);
    expect(summary(tr.update([det(shifted, 0.3)], 1.5))).toEqual([{ id: 1, state: 'lost', hits: 3 }]);
  });

  it('keeps the score window bounded', () => {
    const tr = new ByteTracker({ scoreHistory: 3 });
    const b = rect(10, 10, 50, 50);
    let tracks: Track[] = [];
    [0.9, 0.8, 0.7, 0.6, 0.65].forEach((s, k) => (tracks = tr.update([det(b, s)], k)));
    expect(tracks[0]!.scores).toEqual([0.7, 0.6, 0.65]);
  });
});

describe('ByteTracker label families', () => {
  it('keeps one track through bicycle/motorcycle flips and labels it by summed score', () => {
    // Measured on a small motorbike in front of clutter: YOLOX-nano alternates between the two.
    const seq: Array<[string, number]> = [
      ['motorcycle', 0.5],
      ['bicycle', 0.77],
      ['motorcycle', 0.6],
      ['motorcycle', 0.55],
      ['bicycle', 0.7],
      ['motorcycle', 0.6],
    ];
    const tr = new ByteTracker();
    const labels: string[] = [];
    let tracks: Track[] = [];
    for (const [k, [label, score]] of seq.entries()) {
      tracks = tr.update([det(rect(200, 300, 120, 80), score, label)], k / 2);
      labels.push(tracks[0]!.label);
    }
    expect(tracks.map((t) => [t.id, t.state, t.hits])).toEqual([[1, 'confirmed', 6]]);
    // Running sums: m .5 | b .77 | m 1.1 | m 1.65 | b 1.47 vs m 1.65 | m 2.25.
    expect(labels).toEqual(['motorcycle', 'bicycle', 'motorcycle', 'motorcycle', 'motorcycle', 'motorcycle']);
  });

  it('never joins labels of different families, and families can be switched off', () => {
    const b = rect(200, 300, 60, 120);
    const tr = new ByteTracker();
    let mixed: Track[] = [];
    for (let k = 0; k < 4; k++) mixed = tr.update([det(b, 0.8, k < 3 ? 'bicycle' : 'person')], k / 2);
    expect(mixed.map((t) => [t.id, t.label, t.state])).toEqual([
      [1, 'bicycle', 'lost'],
      [2, 'person', 'tentative'],
    ]);
    // Without families every flip starts a new tentative track, which never gets confirmed.
    const strict = new ByteTracker({ labelFamilies: [] });
    let out: Track[] = [];
    for (let k = 0; k < 4; k++) out = strict.update([det(b, 0.8, k % 2 ? 'motorcycle' : 'bicycle')], k / 2);
    expect(out.map((t) => [t.id, t.label, t.state])).toEqual([[4, 'motorcycle', 'tentative']]);
    expect(
      () =>
        new ByteTracker({
          labelFamilies: [
            ['car', 'truck'],
            ['truck', 'bus'],
          ],
        }),
    ).toThrow(/labelFamilies names "truck" in more than one family/);
  });

  it('votedLabel sums scores per label; ties go to the most recent', () => {
    expect(votedLabel(['car', 'truck', 'car'], [0.4, 0.7, 0.4])).toBe('car');
    expect(votedLabel(['car', 'truck'], [0.5, 0.5])).toBe('truck');
  });
});

describe('ByteTracker stationary flag and zone dwell', () => {
  it('marks a jittering parked box stationary once observed for the whole window', () => {
    const tr = new ByteTracker({ stationaryWindowSec: 5, stationaryMaxShift: 0.25 });
    const jitter = [0, 3, -2, 1, -3, 2, -1, 3, 0, -2, 2, -3, 1];
    const flags: boolean[] = [];
    for (let k = 0; k < 13; k++) {
      const j = jitter[k]!;
      const tracks = tr.update([det(rect(300 + j, 200 - j, 120 + j, 70), 0.9, 'car')], k / 2);
      flags.push(tracks[0]!.stationary);
    }
    // Stream times 0 … 6 s: true from t = 5 s on.
    expect(flags).toEqual([false, false, false, false, false, false, false, false, false, false, true, true, true]);
  });

  it('keeps one id and stays stationary when a parked box jumps between the whole object and a part', () => {
    // Measured on a bicycle with its front wheel hidden: YOLOX alternates between the whole bike and
    // its rear half. The jump looks like motion to the Kalman filter; the object never moved.
    const whole = rect(320, 350, 238, 190);
    const part = rect(424, 355, 132, 190);
    const seq = 'WWWWWWWWWWWWWWWWWWWWPWWWPPPWWWWPPWWWPWW';
    const tr = new ByteTracker();
    let tracks: Track[] = [];
    for (let k = 0; k < seq.length; k++) tracks = tr.update([det(seq[k] === 'W' ? whole : part, 0.6, 'bicycle')], k / 2);
    expect(tracks.map((t) => [t.id, t.state, t.stationary])).toEqual([[1, 'confirmed', true]]);
  });

  it('never marks a steadily moving box stationary', () => {
    const tr = new ByteTracker();
    for (let k = 0; k < 25; k++) {
      // 12 px/s: 60 px over 5 s against a 139 px diagonal = 0.43 of the diagonal.
      const tracks = tr.update([det(rect(300 + 6 * k, 200, 120, 70), 0.9, 'car')], k / 2);
      expect(tracks[0]!.stationary).toBe(false);
    }
  });
});

describe('ByteTracker contract', () => {
  it('is deterministic and reset() restarts ids', () => {
    const run = (tr: ByteTracker) => {
      const out: Track[][] = [];
      for (let k = 0; k < 8; k++) {
        out.push(tr.update([det(rect(10 * k, 0, 50, 50)), det(rect(300, 10 * k, 50, 50), 0.7, 'car')], k / 3));
      }
      return out;
    };
    const tr = new ByteTracker();
    const first = run(tr);
    tr.reset();
    expect(run(tr)).toEqual(first);
    expect(first.at(-1)!.map((t) => t.id)).toEqual([1, 2]);
  });

  it('returns copies that cannot corrupt the tracker', () => {
    const tr = new ByteTracker();
    const b = rect(0, 0, 50, 50);
    const [t] = tr.update([det(b)], 0);
    t!.box.x1 = 999;
    t!.scores.push(1);
    const [again] = tr.update([det(b)], 0.5);
    expect(again!.box).toEqual(b);
    expect(again!.scores).toEqual([0.9, 0.9]);
  });

  it('rejects time going backwards, non-finite input and inconsistent options', () => {
    const tr = new ByteTracker();
    tr.update([], 2);
    expect(() => tr.update([], 1)).toThrow(/went backwards \(1 s after 2 s\)/);
    expect(() => tr.update([det({ x1: 0, y1: 0, x2: NaN, y2: 1 })], 3)).toThrow(/detection 0 \(person\) has a non-finite box/);
    expect(() => new ByteTracker({ lowScore: 0.6, highScore: 0.5 })).toThrow(/lowScore must not exceed highScore/);
    expect(() => new ByteTracker({ minHits: 0 })).toThrow(/minHits must be an integer >= 1/);
    expect(() => new ByteTracker({ matchIou: 0 })).toThrow(/matchIou must be within \(0, 1\]/);
  });
});

describe('stationarySince', () => {
  it('dates a parked object from the start of the window that proved it still, and resets when it moves', () => {
    const tracker = new ByteTracker();
    const parked: Box = { x1: 100, y1: 100, x2: 200, y2: 160 };
    let last: Track | undefined;
    const seen: Array<[number, boolean, number | null | undefined]> = [];
    // Arrives at t=2, parked until t=12, then drives off at 20 px per 0.5 s.
    for (let i = 4; i <= 30; i++) {
      const t = i / 2;
      const dx = t <= 12 ? 0 : (t - 12) * 40;
      [last] = tracker.update([det({ ...parked, x1: parked.x1 + dx, x2: parked.x2 + dx }, 0.9, 'car', t)], t);
      seen.push([t, last!.stationary, last!.stationarySince]);
    }
    expect(seen.find(([t]) => t === 6.5)).toEqual([6.5, false, null]);
    expect(seen.find(([t]) => t === 7)).toEqual([7, true, 2]);
    expect(seen.find(([t]) => t === 12)).toEqual([12, true, 2]);
    expect(seen.filter(([t]) => t > 12).every(([, s, since]) => (s ? since === 2 : since === null))).toBe(true);
    expect(seen.at(-1)).toEqual([15, false, null]);
  });

  it('keeps a confirmed track through a short occlusion gap', () => {
    const tr = new ByteTracker();
    const b = rect(100, 100, 80, 50);
    tr.update([det(b)], 0);
    tr.update([det(b)], 0.5);
    const id = tr.update([det(b)], 1)[0]!.id;
    tr.update([], 1.5);
    tr.update([], 2);
    const tracks = tr.update([det(b)], 2.5);
    expect(tracks.map((t) => [t.id, t.state])).toEqual([[id, 'confirmed']]);
  });
});

describe('stationaryShift', () => {
  const none = { left: false, right: false, top: false, bottom: false };
  it('judges a box cut by the bottom border on its uncut edges', () => {
    // A lorry cut by the bottom border, seen whole one frame and with its bottom 60 px short the
    // next (the detector lost its bumper): its centre moves 30 px, its top and sides not at all.
    const cutBottom = { t: 0, box: { x1: 100, y1: 50, x2: 300, y2: 360 }, cut: { ...none, bottom: true } };
    const shorter = { t: 0.5, box: { x1: 100, y1: 50, x2: 300, y2: 300 }, cut: none };
    expect(stationaryShift([cutBottom, shorter])).toBe(0);
    // Without the cut flags the same two boxes count as a 30 px move of a ~340 px box.
    const diag = (Math.hypot(200, 310) + Math.hypot(200, 250)) / 2;
    expect(stationaryShift([{ ...cutBottom, cut: none }, shorter])).toBeCloseTo(30 / diag, 12);
  });
  it('still sees a cut box that moves (its uncut edge travels)', () => {
    const a = { t: 0, box: { x1: 0, y1: 100, x2: 200, y2: 200 }, cut: { ...none, left: true } };
    const b = { t: 1, box: { x1: 0, y1: 100, x2: 140, y2: 200 }, cut: { ...none, left: true } };
    expect(stationaryShift([a, b])).toBeCloseTo(60 / ((Math.hypot(200, 100) + Math.hypot(140, 100)) / 2), 12);
  });
});
