// ByteTrack-style multi-object tracker (Zhang et al., 2022): high-score detections are associated
// first; low-score ones (often partly occluded objects) only extend tracks that already exist, so
// an occluded vendor or a car behind a bus keeps its id without low-score noise starting tracks.
// Pure and deterministic: same detections and times in, same tracks out.
import { z } from 'zod';
import type { Box, Detection, Track } from '../types.js';
import { iou } from '../geometry/geometry.js';
import { median } from '../stats.js';
import { assign } from './assignment.js';
import { BoxKalman, type KalmanNoise } from './kalman.js';

/** Tracker tuning a camera config may set (`analysis.tracker`, every field optional there). */
export const trackerTuningSchema = z.object({
  /** First association pass uses detections with score >= highScore. */
  highScore: z.number().min(0).max(1),
  /** Second pass uses lowScore <= score < highScore, only against tracks still unmatched. */
  lowScore: z.number().min(0).max(1),
  /** Minimum IoU (predicted box vs detection) for the high pass and for tentative tracks. */
  matchIou: z.number().gt(0).max(1),
  /** Unmatched high detections at or above this start a new tentative track. */
  newTrackScore: z.number().min(0).max(1),
  /** Consecutive matched frames (creation frame included) before a tentative track is confirmed. */
  minHits: z.number().int().min(1).max(100),
  /** A lost track is kept this long after it was last seen (stream seconds), then removed. */
  lostTimeoutSec: z.number().min(0).max(3600),
  /** Window over which stationarity is judged (stream seconds). */
  stationaryWindowSec: z.number().gt(0).max(3600),
  /**
   * Extent of the box's position over the window / mean box diagonal below this = stationary. The
   * position is the box centre; on an axis where the frame border cuts the box in some frame of the
   * window, it is the box's uncut edges instead (see stationaryShift).
   */
  stationaryMaxShift: z.number().gt(0).max(10),
  /**
   * A box edge within this fraction of the frame size of the frame border is cut by it (only when
   * the caller passes the frame size to update()). Default 0.005, as the rules' borderCut.
   */
  borderMargin: z.number().min(0).lt(0.5),
});

export type TrackerOptions = z.infer<typeof trackerTuningSchema> & {
  /** Minimum IoU for the low pass: stricter, low-score boxes are less trustworthy. */
  lowMatchIou: number;
  /** Recent scores kept on the track. */
  scoreHistory: number;
  /** Motion model noise; the defaults follow ByteTrack's (1/20 of the box size) measurement noise. */
  kalman: KalmanNoise;
  /**
   * Labels a small model confuses on one object (a motorbike read as a bicycle, a pickup as a
   * truck). Within a family detections continue the same track, and the track's label is the one
   * with the most score over its recent history, so a flip neither splits the track nor restarts
   * its dwell.
   */
  labelFamilies: ReadonlyArray<readonly string[]>;
};

export const DEFAULT_TRACKER_OPTIONS: Readonly<TrackerOptions> = Object.freeze({
  // Below ByteTrack's published 0.5/0.6: a nano-sized CPU model scores real bicycles and
  // motorcycles around 0.5, and a track that never starts can never become a case. Precision
  // comes from the debouncer (median score, dwell, N of M), not from refusing to track.
  highScore: 0.4,
  lowScore: 0.1,
  matchIou: 0.3,
  lowMatchIou: 0.5,
  newTrackScore: 0.45,
  minHits: 3,
  lostTimeoutSec: 3,
  stationaryWindowSec: 5,
  stationaryMaxShift: 0.25,
  borderMargin: 0.005,
  scoreHistory: 15,
  kalman: Object.freeze({ measurement: 0.05, acceleration: 0.5, initialVelocity: 2 }),
  labelFamilies: Object.freeze([Object.freeze(['bicycle', 'motorcycle']), Object.freeze(['car', 'truck', 'bus'])]),
});

/** One observed box in the stationarity window, with the edges the frame border cut. */
export interface BoxSample {
  t: number;
  box: Box;
  cut: { left: boolean; right: boolean; top: boolean; bottom: boolean };
}

/**
 * How far a box moved over a window of samples, relative to its mean diagonal. Per axis: the
 * extent of the box centre when no sample is cut by the frame border on that axis; otherwise the
 * largest extent of an edge over the samples where that edge is uncut. A truck filling the bottom
 * of the picture, cut by the border, grows and shrinks as the detector sees more or less of it:
 * its centre wanders with the cut, its uncut edges (top, sides) do not. An axis with no uncut
 * sample (the box spans the frame) adds nothing. Exported for tests.
 */
export function stationaryShift(samples: readonly BoxSample[]): number {
  if (samples.length === 0) return 0;
  const extent = (vals: number[]) => (vals.length < 2 ? 0 : Math.max(...vals) - Math.min(...vals));
  const axis = (lo: 'x1' | 'y1', hi: 'x2' | 'y2', cutLo: 'left' | 'top', cutHi: 'right' | 'bottom') => {
    if (!samples.some((s) => s.cut[cutLo] || s.cut[cutHi])) return extent(samples.map((s) => (s.box[lo] + s.box[hi]) / 2));
    return Math.max(
      extent(samples.filter((s) => !s.cut[cutLo]).map((s) => s.box[lo])),
      extent(samples.filter((s) => !s.cut[cutHi]).map((s) => s.box[hi])),
    );
  };
  const dx = axis('x1', 'x2', 'left', 'right');
  const dy = axis('y1', 'y2', 'top', 'bottom');
  const diag = samples.reduce((a, s) => a + Math.hypot(s.box.x2 - s.box.x1, s.box.y2 - s.box.y1), 0) / samples.length;
  return diag > 0 ? Math.hypot(dx, dy) / diag : Infinity;
}

interface TrackState {
  id: number;
  label: string;
  kf: BoxKalman;
  box: Box;
  score: number;
  scores: number[];
  /** Label of each entry in `scores` (same window). */
  labels: string[];
  state: Track['state'];
  hits: number;
  firstSeen: number;
  lastSeen: number;
  stationary: boolean;
  stationarySince: number | null;
  samples: BoxSample[];
  appearance?: number[];
}

export class ByteTracker {
  private readonly opts: TrackerOptions;
  private readonly family: Map<string, number>;
  private tracks: TrackState[] = [];
  private nextId = 1;
  /** Recent frame intervals (s): the analysed rate, which lost-track retention scales with. */
  private intervals: number[] = [];
  private lastTime = -Infinity;
  /** Frame size of the current update (0 when the caller did not give it: no border cuts). */
  private frame = { width: 0, height: 0 };

  constructor(opts: Partial<TrackerOptions> = {}) {
    this.opts = { ...DEFAULT_TRACKER_OPTIONS, ...opts };
    validateOptions(this.opts);
    this.family = new Map(this.opts.labelFamilies.flatMap((f, i) => f.map((l) => [l, i] as const)));
  }

  /**
   * Feeds the detections of one frame at stream time `time` (s). `frame` (source px) lets
   * stationarity tell box edges cut by the frame border from real ones. Returns every track
   * currently held — tentative, confirmed and lost — sorted by id; the caller filters by state.
   */
  update(dets: readonly Detection[], time: number, frame?: { width: number; height: number }): Track[] {
    if (!Number.isFinite(time)) throw new RangeError(`tracker: stream time must be a finite number, got ${time}`);
    if (time < this.lastTime) {
      throw new RangeError(`tracker: stream time went backwards (${time} s after ${this.lastTime} s); call reset() for a new stream`);
    }
    const dt = this.lastTime === -Infinity ? 0 : time - this.lastTime;
    this.lastTime = time;
    this.frame = frame && frame.width > 0 && frame.height > 0 ? { width: frame.width, height: frame.height } : { width: 0, height: 0 };
    const o = this.opts;
    if (dt > 0) {
      this.intervals.push(dt);
      if (this.intervals.length > 5) this.intervals.shift();
    }

    // A lost track is kept lostTimeoutSec, but never less than a few frame intervals: at 0.25–1 fps
    // (keyframes, time-lapse recorders) one missed detection is a multi-second gap, and a parked car
    // or a standing vendor must come back under the same id.
    const keepLost = Math.max(o.lostTimeoutSec, LOST_FRAMES * (median(this.intervals) ?? 0));
    this.tracks = this.tracks.filter((t) => t.state !== 'lost' || time - t.lastSeen <= keepLost);
    for (const t of this.tracks) t.kf.predict(dt);
    const predicted = new Map(this.tracks.map((t) => [t, t.kf.box()]));

    const high: Detection[] = [];
    const low: Detection[] = [];
    for (const [i, d] of dets.entries()) {
      const b = d.box;
      if (![b.x1, b.y1, b.x2, b.y2, d.score].every(Number.isFinite)) {
        throw new RangeError(`tracker: detection ${i} (${d.label}) has a non-finite box or score`);
      }
      // Boxes clipped to nothing at the image border carry no position to track.
      if (b.x2 <= b.x1 || b.y2 <= b.y1) continue;
      if (d.score >= o.highScore) high.push(d);
      else if (d.score >= o.lowScore) low.push(d);
    }

    const match = (tracks: TrackState[], cand: Detection[], minIou: number) => {
      const cost = tracks.map((t) => {
        const p = predicted.get(t)!;
        // The last observed box counts as well as the prediction: when a partly hidden object's box
        // jumps between its whole and a visible part, the filter reads the jump as motion and its
        // prediction runs off, while the object has not moved at all.
        return cand.map((d) => (this.sameKind(d.label, t.label) ? 1 - Math.max(iou(p, d.box), iou(t.box, d.box)) : Infinity));
      });
      const r = assign(cost, cand.length, 1 - minIou);
      for (const [ti, di] of r.matches) this.observe(tracks[ti]!, cand[di]!, time);
      return { tracks: r.unmatchedRows.map((i) => tracks[i]!), dets: r.unmatchedCols.map((j) => cand[j]!) };
    };

    // 1. High-score detections against confirmed and lost tracks.
    const pool = this.tracks.filter((t) => t.state !== 'tentative');
    const first = match(pool, high, o.matchIou);
    // 2. Low-score detections only extend tracks that were being followed until now: re-finding a
    //    lost track or feeding a tentative one on weak evidence is how ghosts get made.
    const second = match(
      first.tracks.filter((t) => t.state === 'confirmed'),
      low,
      o.lowMatchIou,
    );
    // 3. Remaining high-score detections against tentative tracks.
    const third = match(
      this.tracks.filter((t) => t.state === 'tentative'),
      first.dets,
      o.matchIou,
    );

    const missed = new Set<TrackState>([...second.tracks, ...third.tracks]);
    this.tracks = this.tracks.filter((t) => !(missed.has(t) && t.state === 'tentative'));
    for (const t of missed) {
      if (t.state === 'confirmed') {
        t.state = 'lost';
        t.kf.freezeSize();
      }
    }

    for (const d of third.dets) {
      if (d.score >= o.newTrackScore) this.tracks.push(this.start(d, time));
    }
    this.tracks.sort((a, b) => a.id - b.id);
    return this.tracks.map(snapshot);
  }

  reset(): void {
    this.intervals = [];
    this.tracks = [];
    this.nextId = 1;
    this.lastTime = -Infinity;
  }

  private start(d: Detection, time: number): TrackState {
    const t: TrackState = {
      id: this.nextId++,
      label: d.label,
      kf: new BoxKalman(d.box, this.opts.kalman),
      box: { ...d.box },
      score: d.score,
      scores: [d.score],
      labels: [d.label],
      state: this.opts.minHits <= 1 ? 'confirmed' : 'tentative',
      hits: 1,
      firstSeen: time,
      lastSeen: time,
      stationary: false,
      stationarySince: null,
      samples: [],
    };
    if (d.appearance) t.appearance = d.appearance;
    this.updateStationary(t, time);
    return t;
  }

  private observe(t: TrackState, d: Detection, time: number): void {
    t.kf.update(d.box);
    t.box = { ...d.box };
    t.score = d.score;
    t.scores.push(d.score);
    t.labels.push(d.label);
    if (t.scores.length > this.opts.scoreHistory) {
      t.scores.splice(0, t.scores.length - this.opts.scoreHistory);
      t.labels.splice(0, t.labels.length - this.opts.scoreHistory);
    }
    t.label = votedLabel(t.labels, t.scores);
    t.hits += 1;
    t.lastSeen = time;
    if (d.appearance) t.appearance = d.appearance;
    if (t.state === 'lost' || (t.state === 'tentative' && t.hits >= this.opts.minHits)) t.state = 'confirmed';
    this.updateStationary(t, time);
  }

  private sameKind(a: string, b: string): boolean {
    if (a === b) return true;
    const fa = this.family.get(a);
    return fa !== undefined && fa === this.family.get(b);
  }

  /** Stationary once observed for a whole window with its position barely spread relative to the box. */
  private updateStationary(t: TrackState, time: number): void {
    const b = t.box;
    const { width: w, height: h } = this.frame;
    const mx = this.opts.borderMargin * w;
    const my = this.opts.borderMargin * h;
    const cut =
      w > 0
        ? { left: b.x1 <= mx, right: b.x2 >= w - mx, top: b.y1 <= my, bottom: b.y2 >= h - my }
        : { left: false, right: false, top: false, bottom: false };
    t.samples.push({ t: time, box: { ...b }, cut });
    const from = time - this.opts.stationaryWindowSec;
    // Keep one sample at or before the window start so "observed for the whole window" is testable.
    while (t.samples.length >= 2 && t.samples[1]!.t <= from) t.samples.shift();
    const c = t.samples;
    if (c[0]!.t > from + 1e-9) {
      t.stationary = false;
      t.stationarySince = null;
      return;
    }
    const wasStationary = t.stationary;
    t.stationary = stationaryShift(c) < this.opts.stationaryMaxShift;
    if (!t.stationary) t.stationarySince = null;
    else if (!wasStationary) t.stationarySince = c[0]!.t;
  }
}

/** Frame intervals a lost track survives at least, whatever lostTimeoutSec says. */
export const LOST_FRAMES = 2.5;

function snapshot(t: TrackState): Track {
  return {
    id: t.id,
    label: t.label,
    box: { ...t.box },
    score: t.score,
    scores: [...t.scores],
    state: t.state,
    hits: t.hits,
    firstSeen: t.firstSeen,
    lastSeen: t.lastSeen,
    stationary: t.stationary,
    stationarySince: t.stationarySince ?? null,
    ...(t.appearance ? { appearance: t.appearance } : {}),
  };
}

/** The label with the largest summed score (ties: the most recent); exported for tests. */
export function votedLabel(labels: readonly string[], scores: readonly number[]): string {
  const sum = new Map<string, number>();
  labels.forEach((l, i) => sum.set(l, (sum.get(l) ?? 0) + scores[i]!));
  let best = labels[labels.length - 1]!;
  for (const [l, v] of sum) if (v > sum.get(best)!) best = l;
  return best;
}

function validateOptions(o: TrackerOptions): void {
  const fail = (name: string, why: string, value: unknown) => {
    throw new RangeError(`tracker option ${name} ${why}, got ${JSON.stringify(value)}`);
  };
  const unit = ['highScore', 'lowScore', 'newTrackScore', 'stationaryMaxShift'] as const;
  if (!(o.borderMargin >= 0 && o.borderMargin < 0.5)) fail('borderMargin', 'must be within [0, 0.5)', o.borderMargin);
  for (const k of unit) if (!(o[k] >= 0 && o[k] <= 1)) fail(k, 'must be within 0..1', o[k]);
  for (const k of ['matchIou', 'lowMatchIou'] as const) if (!(o[k] > 0 && o[k] <= 1)) fail(k, 'must be within (0, 1]', o[k]);
  if (o.lowScore > o.highScore) fail('lowScore', `must not exceed highScore (${o.highScore})`, o.lowScore);
  if (o.newTrackScore < o.highScore) fail('newTrackScore', `must be at least highScore (${o.highScore})`, o.newTrackScore);
  for (const k of ['minHits', 'scoreHistory'] as const)
    if (!(Number.isInteger(o[k]) && o[k] >= 1)) fail(k, 'must be an integer >= 1', o[k]);
  if (!(o.lostTimeoutSec >= 0 && Number.isFinite(o.lostTimeoutSec)))
    fail('lostTimeoutSec', 'must be a finite number >= 0', o.lostTimeoutSec);
  if (!(o.stationaryWindowSec > 0 && Number.isFinite(o.stationaryWindowSec)))
    fail('stationaryWindowSec', 'must be a finite number > 0', o.stationaryWindowSec);
  const k = o.kalman;
  if (!(k && k.measurement > 0 && k.acceleration >= 0 && k.initialVelocity > 0))
    fail('kalman', 'needs measurement > 0, acceleration >= 0, initialVelocity > 0', k);
  if (!Array.isArray(o.labelFamilies) || o.labelFamilies.some((f) => !Array.isArray(f) || f.some((l) => typeof l !== 'string')))
    fail('labelFamilies', 'must be a list of label lists', o.labelFamilies);
  const seen = new Set<string>();
  for (const l of o.labelFamilies.flat()) {
    if (seen.has(l)) fail('labelFamilies', `names "${l}" in more than one family`, o.labelFamilies);
    seen.add(l);
  }
}
