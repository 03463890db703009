// Event-level matching of what the pipeline reported on one clip against its ground truth.
// Pure: events and labels in, a match record out. The unit of counting is the *episode* (one
// would-be case), not the frame, because a city pays for and is annoyed by cases.
import type { ViolationEvent } from '../types.js';

/** A labelled violation episode (clip seconds). */
export interface TruthEpisode {
  classId: string;
  /** When given, only predictions in this zone can match. */
  zoneId?: string | null;
  start: number;
  end: number;
  note?: string;
  /** How far a prediction may end before `start` and still match (default: MatchOptions.toleranceSec). */
  toleranceBeforeSec?: number;
  /** How far a prediction may start after `end` and still match (default: MatchOptions.toleranceSec). */
  toleranceAfterSec?: number;
  /** A match confirmed later than this after `start` is flagged late (still a match). */
  lateStartSec?: number;
}

/** A labelled "must stay silent" (class, zone); zone omitted = anywhere in the clip. */
export interface TruthNegative {
  classId: string;
  zoneId?: string;
}

/** An episode that reached 'confirmed': one case the system would have opened. */
export interface PredictedEpisode {
  episodeId: string;
  classId: string;
  zoneId: string | null;
  start: number;
  /** End of the episode; the clip end when it never cleared. */
  end: number;
  /** Stream time of the 'confirmed' event. */
  confirmedAt: number;
}

export interface MatchOptions {
  /** Default gap allowed between a prediction and a truth interval (seconds). Default 2. */
  toleranceSec?: number;
}

export const DEFAULT_TOLERANCE_SEC = 2;

export interface MatchedPair {
  prediction: PredictedEpisode;
  truth: TruthEpisode;
  truthIndex: number;
  /** Seconds the two intervals share (negative: the gap bridged by the tolerance). */
  overlapSec: number;
  /** confirmedAt − truth.start. */
  timeToDetectSec: number;
  late: boolean;
}

export interface Duplicate {
  prediction: PredictedEpisode;
  /** The truth episode another prediction already matched. */
  truthIndex: number;
}

export type ConfusionEntry = { classId: string; other: string /* class id or 'none' */ };

export interface ClipMatch {
  /** Classes scored on this clip: named by an episode or a negative. */
  scoredClasses: string[];
  matches: MatchedPair[];
  duplicates: Duplicate[];
  falsePositives: PredictedEpisode[];
  falseNegatives: { truth: TruthEpisode; truthIndex: number }[];
  /** Predictions of classes the truth does not score (not counted anywhere). */
  ignored: PredictedEpisode[];
  /** Per prediction (scored classes): which truth class it overlapped in time, or 'none'. */
  predictionConfusion: ConfusionEntry[];
  /** Per truth episode: which predicted class overlapped it in time, or 'none'. */
  truthConfusion: ConfusionEntry[];
}

/**
 * Episodes that reached 'confirmed', from a replay's events (any order). Interval = the episode
 * start up to its last clearing (or `clipEnd` if it is still open / resumed after a clear).
 */
export function predictedEpisodes(events: readonly ViolationEvent[], clipEnd: number): PredictedEpisode[] {
  const byId = new Map<string, ViolationEvent[]>();
  for (const e of events) {
    const list = byId.get(e.episodeId);
    if (list) list.push(e);
    else byId.set(e.episodeId, [e]);
  }
  const out: PredictedEpisode[] = [];
  for (const [episodeId, evs] of byId) {
    const sorted = [...evs].sort((a, b) => a.streamTime - b.streamTime);
    const confirmed = sorted.find((e) => e.transition === 'confirmed');
    if (!confirmed) continue;
    const last = sorted[sorted.length - 1]!;
    const start = Math.min(...sorted.map((e) => e.start));
    const end = last.transition === 'cleared' && last.end !== null ? last.end : clipEnd;
    out.push({
      episodeId,
      classId: confirmed.classId,
      zoneId: confirmed.reason.zoneId,
      start,
      end: Math.max(start, end),
      confirmedAt: confirmed.streamTime,
    });
  }
  return out.sort((a, b) => a.confirmedAt - b.confirmedAt || a.episodeId.localeCompare(b.episodeId));
}

/** Shared seconds of two intervals; negative = the gap between them. */
export function overlapSec(a: { start: number; end: number }, b: { start: number; end: number }): number {
  return Math.min(a.end, b.end) - Math.max(a.start, b.start);
}

/**
 * Whether a prediction is close enough in time to a truth episode: the intervals overlap, or
 * the gap is at most the tolerance on that side (a gap exactly equal to the tolerance matches).
 */
export function withinTolerance(p: { start: number; end: number }, t: TruthEpisode, defaultTol = DEFAULT_TOLERANCE_SEC): boolean {
  const before = t.toleranceBeforeSec ?? defaultTol;
  const after = t.toleranceAfterSec ?? defaultTol;
  if (p.end < t.start) return t.start - p.end <= before + 1e-9;
  if (p.start > t.end) return p.start - t.end <= after + 1e-9;
  return true;
}

function compatible(p: PredictedEpisode, t: TruthEpisode, tol: number): boolean {
  if (p.classId !== t.classId) return false;
  if (t.zoneId != null && p.zoneId !== t.zoneId) return false;
  return withinTolerance(p, t, tol);
}

/**
 * One-to-one assignment. Greedy first: candidate pairs by largest overlap (ties: closest start,
 * earlier confirmation, input order), so the "obvious" pairing wins. Then augmenting paths
 * (Kuhn) re-assign where that lets one more truth be matched, so a prediction spanning two
 * truths cannot leave one unmatched when another prediction could take it. Unmatched
 * predictions that were compatible with a truth are duplicates of it; the rest are false
 * positives (only for classes the clip scores).
 */
export function matchClip(
  predictions: readonly PredictedEpisode[],
  truths: readonly TruthEpisode[],
  negatives: readonly TruthNegative[] = [],
  opts: MatchOptions = {},
): ClipMatch {
  const tol = opts.toleranceSec ?? DEFAULT_TOLERANCE_SEC;
  const scored = new Set<string>([...truths.map((t) => t.classId), ...negatives.map((n) => n.classId)]);
  const preds = predictions.filter((p) => scored.has(p.classId));
  const ignored = predictions.filter((p) => !scored.has(p.classId));

  const cand: number[][] = preds.map((p) => truths.flatMap((t, j) => (compatible(p, t, tol) ? [j] : [])));
  const pairs: { i: number; j: number; ov: number; ds: number }[] = [];
  preds.forEach((p, i) =>
    cand[i]!.forEach((j) => pairs.push({ i, j, ov: overlapSec(p, truths[j]!), ds: Math.abs(p.start - truths[j]!.start) })),
  );
  pairs.sort((a, b) => b.ov - a.ov || a.ds - b.ds || preds[a.i]!.confirmedAt - preds[b.i]!.confirmedAt || a.i - b.i || a.j - b.j);

  const predOf = new Array<number>(truths.length).fill(-1);
  const truthOf = new Array<number>(preds.length).fill(-1);
  for (const { i, j } of pairs) {
    if (truthOf[i] !== -1 || predOf[j] !== -1) continue;
    truthOf[i] = j;
    predOf[j] = i;
  }
  const augment = (i: number, seen: Set<number>): boolean => {
    for (const j of cand[i]!) {
      if (seen.has(j)) continue;
      seen.add(j);
      if (predOf[j] === -1 || augment(predOf[j]!, seen)) {
        truthOf[i] = j;
        predOf[j] = i;
        return true;
      }
    }
    return false;
  };
  preds.forEach((_, i) => {
    if (truthOf[i] === -1 && cand[i]!.length > 0) augment(i, new Set());
  });

  const matches: MatchedPair[] = [];
  const duplicates: Duplicate[] = [];
  const falsePositives: PredictedEpisode[] = [];
  preds.forEach((p, i) => {
    const j = truthOf[i]!;
    if (j >= 0) {
      const t = truths[j]!;
      const ttd = p.confirmedAt - t.start;
      matches.push({
        prediction: p,
        truth: t,
        truthIndex: j,
        overlapSec: overlapSec(p, t),
        timeToDetectSec: ttd,
        late: t.lateStartSec !== undefined && ttd > t.lateStartSec,
      });
    } else if (cand[i]!.length > 0) {
      // Every compatible truth is taken (else the augmenting pass would have matched it):
      // attribute the duplicate to the one it overlaps most.
      const best = [...cand[i]!].sort((a, b) => overlapSec(p, truths[b]!) - overlapSec(p, truths[a]!) || a - b)[0]!;
      duplicates.push({ prediction: p, truthIndex: best });
    } else falsePositives.push(p);
  });
  const falseNegatives = truths.flatMap((t, j) => (predOf[j] === -1 ? [{ truth: t, truthIndex: j }] : []));

  // Confusion: a same-class pairing first (the match/duplicate), else the most-overlapping episode
  // of any class within tolerance, zone ignored — a mislabelled case is usually in another zone.
  const predictionConfusion = preds.map((p, i): ConfusionEntry => {
    if (cand[i]!.length > 0) return { classId: p.classId, other: p.classId };
    return { classId: p.classId, other: mostOverlapping(p, truths, tol)?.classId ?? 'none' };
  });
  const truthConfusion = truths.map((t, j): ConfusionEntry => {
    if (predOf[j]! >= 0) return { classId: t.classId, other: t.classId };
    let best: PredictedEpisode | null = null;
    for (const p of preds) {
      if (!withinTolerance(p, t, tol)) continue;
      if (!best || overlapSec(p, t) > overlapSec(best, t)) best = p;
    }
    return { classId: t.classId, other: best?.classId ?? 'none' };
  });

  return {
    scoredClasses: [...scored].sort(),
    matches,
    duplicates,
    falsePositives,
    falseNegatives,
    ignored,
    predictionConfusion,
    truthConfusion,
  };
}

function mostOverlapping(p: PredictedEpisode, truths: readonly TruthEpisode[], tol: number): TruthEpisode | null {
  let best: TruthEpisode | null = null;
  for (const t of truths) {
    if (!withinTolerance(p, t, tol)) continue;
    if (!best || overlapSec(p, t) > overlapSec(p, best)) best = t;
  }
  return best;
}
