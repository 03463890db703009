// What a violation event does to cases, notices and deliveries. Pure (no I/O): the camera runner
// asks the case store what it knows, calls decideCase() and carries out the decision; the case
// store applies mergeIouOf() inside its creation transaction. Every input is in the event's reason
// record (the class's thresholds, the typed `resumed` flag) or in the store's answer, so the case
// decision is read from the same record as the rules' decision.
//
// The two ways a sighting joins an existing case:
// - 'resumed': the rules engine continued the same episode (same subject back within
//   mergeWindowSec after it cleared); its case takes a reappearance.
// - 'overlap': another episode (a new track id after a long occlusion, another worker after a
//   failover) whose boxes overlap an open case of the same camera, class and zone by ≥ mergeIou,
//   last seen within mergeWindowSec; the case store decides that under its lock, with mergeIouOf().
// Either way the case's history gets a 'merge' entry with mergeDetails(): the merged episode's
// reason record, the IoU, the window and the gap.
import type { Box, ReasonRecord, ViolationEvent } from '../types.js';
import { iou } from '../geometry/geometry.js';

/** Box IoU at or above which two sightings of one class in one zone are the same violation. */
export const MERGE_IOU = 0.3;

/** What the case store holds for the event's episode key. */
export interface EpisodeCase {
  id: string;
  /** Epoch ms of the case's latest sighting. */
  lastSeenAt: number;
  boxes: readonly Box[];
}

/** A sighting joined an existing case: the case history's record of why. */
export interface MergeDetails {
  episodeKey: string;
  /** 'overlap' (another episode, matched by boxes; absent on entries written before this field) or 'resumed' (the same episode back). */
  rule?: 'overlap' | 'resumed';
  /** Best box IoU between the case's last boxes and the merged sighting's. */
  iou: number;
  /** The IoU the merge needed (0 for 'resumed': the engine tied the subject, not the boxes) and the window it had to fall in. */
  minIou: number;
  windowMs: number;
  /** Time from the case's last sighting to the merged sighting's first (ms, may be negative). */
  gapMs: number;
  firstSeenAt: number;
  lastSeenAt: number;
  /** The merged episode's reason record (its qualification facts included). */
  reason: ReasonRecord;
}

export type CaseDecision =
  /** warning: open the warning notice (grace period) and deliver violation.warning. */
  | { action: 'notice'; graceSec: number }
  /** confirmed: create the case, or let the store merge it into an open one (mergeIouOf within mergeWindowMs). */
  | { action: 'create'; firstSeenAt: number; lastSeenAt: number; mergeWindowMs: number; mergeIou: number }
  /** The episode came back after clearing: a reappearance on its case, with a 'merge' history entry and fresh evidence. */
  | { action: 'merge'; caseId: string; details: MergeDetails }
  /** cleared with a case: the case's last sighting is the episode's end. */
  | { action: 'touch'; caseId: string; lastSeenAt: number }
  /** cleared without a case (left within the warning's grace): resolve the notice, deliver notice.resolved if one was open. */
  | { action: 'resolve-notice' }
  | { action: 'none'; why: string };

/** Epoch ms of a stream time of the event's timeline (the event carries both clocks at its own time). */
export function wallAt(ev: Pick<ViolationEvent, 'wallTime' | 'streamTime'>, streamTime: number): number {
  return Math.round(ev.wallTime - (ev.streamTime - streamTime) * 1000);
}

/** Whether decideCase() needs the store's case for the event's episode (so the runner asks only then). */
export function needsEpisodeCase(ev: Pick<ViolationEvent, 'transition' | 'reason'>): boolean {
  return ev.transition === 'cleared' || (ev.transition === 'active' && ev.reason.resumed === true);
}

/** Best IoU between two sets of boxes (0 when either is empty). */
export function boxOverlap(a: readonly Box[], b: readonly Box[]): number {
  let best = 0;
  for (const x of a) for (const y of b) best = Math.max(best, iou(x, y));
  return best;
}

/**
 * The overlap rule of a merge: the IoU between an open case's boxes and a sighting's when it is at
 * least `minIou`, else null. The store has already narrowed the cases to the same camera, class
 * and zone, in a mergeable state and last seen within the window.
 */
export function mergeIouOf(caseBoxes: readonly Box[], sightingBoxes: readonly Box[], minIou = MERGE_IOU): number | null {
  const v = boxOverlap(caseBoxes, sightingBoxes);
  return v >= minIou ? v : null;
}

/** The history record of a merge, built the same way for both rules. */
export function mergeDetails(a: {
  rule: 'overlap' | 'resumed';
  episodeKey: string;
  iou: number;
  minIou: number;
  windowMs: number;
  caseLastSeenAt: number;
  firstSeenAt: number;
  lastSeenAt: number;
  reason: ReasonRecord;
}): MergeDetails {
  return {
    episodeKey: a.episodeKey,
    rule: a.rule,
    iou: Math.round(a.iou * 1000) / 1000,
    minIou: a.minIou,
    windowMs: a.windowMs,
    gapMs: a.firstSeenAt - a.caseLastSeenAt,
    firstSeenAt: a.firstSeenAt,
    lastSeenAt: a.lastSeenAt,
    reason: a.reason,
  };
}

/** The history line of a merge (the details carry the numbers). */
export function mergeNote(d: MergeDetails): string {
  const within = `within ${Math.round(d.windowMs / 1000)} s`;
  return d.rule === 'resumed'
    ? `episode resumed after clearing (IoU ${d.iou.toFixed(2)}, ${within})`
    : `reappearance merged (IoU ${d.iou.toFixed(2)} ≥ ${d.minIou}, ${within})`;
}

/**
 * What one event does. `episodeCase`: the case holding the event's episode key (needed only when
 * needsEpisodeCase(ev); pass null otherwise). `episodeKey`: the qualified key the case store knows
 * the episode by.
 */
export function decideCase(ev: ViolationEvent, episodeCase: EpisodeCase | null, episodeKey: string): CaseDecision {
  const t = ev.reason.thresholds;
  switch (ev.transition) {
    case 'candidate':
      return { action: 'none', why: 'candidate: not an operator-visible stage' };
    case 'warning':
      // A warning that resumed within the merge window re-opens nothing: the notice is per episode.
      return { action: 'notice', graceSec: t.graceSec ?? 0 };
    case 'confirmed':
      return {
        action: 'create',
        firstSeenAt: wallAt(ev, ev.start),
        lastSeenAt: ev.wallTime,
        mergeWindowMs: (t.mergeWindowSec ?? 0) * 1000,
        mergeIou: MERGE_IOU,
      };
    case 'active': {
      if (ev.reason.resumed !== true) return { action: 'none', why: 'still present after confirmation' };
      if (!episodeCase) return { action: 'none', why: 'resumed, but no case holds this episode' };
      // The run that came back: its first hit since the episode cleared.
      const back = ev.reason.frameTimes[0] ?? ev.streamTime;
      const details = mergeDetails({
        rule: 'resumed',
        episodeKey,
        iou: boxOverlap(episodeCase.boxes, ev.boxes),
        minIou: 0,
        windowMs: (t.mergeWindowSec ?? 0) * 1000,
        caseLastSeenAt: episodeCase.lastSeenAt,
        firstSeenAt: wallAt(ev, back),
        lastSeenAt: ev.wallTime,
        reason: ev.reason,
      });
      return { action: 'merge', caseId: episodeCase.id, details };
    }
    case 'cleared':
      if (episodeCase) return { action: 'touch', caseId: episodeCase.id, lastSeenAt: wallAt(ev, ev.end ?? ev.streamTime) };
      return { action: 'resolve-notice' };
  }
}

/** Evidence to cut after a creation: the case's own clip, a reappearance clip on the case it joined, or none for a replayed episode. */
export function evidenceAfterCreate(outcome: 'created' | 'merged' | 'existing'): 'case' | 'reappearance' | null {
  return outcome === 'created' ? 'case' : outcome === 'merged' ? 'reappearance' : null;
}
