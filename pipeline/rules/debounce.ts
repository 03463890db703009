// Debouncing of one (camera, class, zone, subject): turns noisy per-frame hits into episodes with
// a lifecycle candidate → (warning) → confirmed → active → cleared. Pure: all time comes from the
// observations, so replaying the same frames reproduces the same events and ids.
//
// Decisions, each with the reason it exists:
// - Dwell counts from the first hit of the current run and survives gaps shorter than maxGapSec,
//   so a vendor hidden by a passing bus keeps accumulating.
// - Hits are counted over the last `window` observations (N of M): flicker never confirms.
// - The median of recent scores must reach minMedianScore: one lucky high-score frame among
//   low-score ones cannot confirm. Once open, the episode stays while the median is at least
//   exitMedianScore (hysteresis), so a score hovering at the threshold does not flap.
// - After clearing, a reappearance within mergeWindowSec resumes the same episode (same id, no
//   new case); outside it but within cooldownSec nothing new starts for this subject.
import { createHash } from 'node:crypto';
import type { Box, DebounceState, ReasonRecord } from '../types.js';
import type { ClassThresholds } from './catalog.js';
import { median } from '../stats.js';

export type DebounceParams = ClassThresholds;

const MAX_TRACK_IDS = 64;

export interface DebounceKey {
  cameraId: string;
  classId: string;
  zoneId: string | null;
  zoneType: string | null;
  subject: string;
}

/** What the engine saw of one subject in one analysed frame. */
export interface Observation {
  /** Stream time (s) of the frame. */
  time: number;
  wallTime: number;
  /** The subject qualified for the class in this frame (in zone, stationary, score ≥ minScore, …). */
  hit: boolean;
  /**
   * Score of the subject in this frame when it was seen at all (also on non-hits below minScore,
   * so weak frames pull the median down). Omit when the subject was not seen.
   */
  score?: number;
  boxes?: Box[];
  trackIds?: number[];
  /**
   * On a hit: the subject has qualified continuously since this earlier time (a track stationary
   * since its window began, a static blob since it appeared). A new episode starts there, so
   * dwell is not delayed by the evidence window of the detector that reports it.
   */
  since?: number;
}

/** 'idle': nothing open and no quiet period running. */
export type Phase = 'idle' | DebounceState;

/** Highest stage an episode reached; consumers that only want cases filter out 'candidate'. */
export type EpisodeLevel = 'candidate' | 'warning' | 'confirmed';

export interface SubjectState {
  key: DebounceKey;
  phase: Phase;
  /** Current (or last, while cleared) episode. */
  episodeId: string | null;
  /** First hit of the episode (stream s). */
  episodeStart: number | null;
  /** First hit of the episode's presence; dwell is measured from here (kept across merges). */
  runStart: number | null;
  /** Time of the run's first observed hit (runStart may be back-dated before it). */
  firstHit: number | null;
  lastHit: number | null;
  /** When the episode cleared (stream s); merge window and cooldown count from here. */
  clearedAt: number | null;
  lastTime: number | null;
  level: EpisodeLevel;
  /** Re-qualifying after a merge: a confirmed episode goes straight back to 'active'. */
  resumed: boolean;
  /** Hit flags of the last `window` observations of the current run, newest last. */
  hitWindow: boolean[];
  /** Scores of the last `window` observations where the subject was seen, newest last. */
  scores: number[];
  /** Frame times of recent hits, newest last (bounded by window). */
  hitTimes: number[];
  trackIds: number[];
  boxes: Box[];
  eventSeq: number;
  /** Seconds between the last two observations: the analysed rate, which requiredHits scales with. */
  interval: number | null;
}

export interface DebounceEvent {
  /** Deterministic: `${episodeId}.${seq}`. */
  id: string;
  episodeId: string;
  transition: DebounceState;
  /** Highest stage the episode had reached when this event was emitted. */
  level: EpisodeLevel;
  time: number;
  wallTime: number;
  start: number;
  end: number | null;
  boxes: Box[];
  reason: ReasonRecord;
}

export function keyString(k: DebounceKey): string {
  return `${k.cameraId}:${k.classId}:${k.zoneId ?? '-'}:${k.subject}`;
}

/** Deterministic episode id from the key and the episode's first hit. */
export function episodeIdFor(k: DebounceKey, start: number): string {
  const h = createHash('sha1')
    .update(`${keyString(k)}@${start.toFixed(3)}`)
    .digest('hex');
  return `ep_${h.slice(0, 16)}`;
}

export function initialState(key: DebounceKey): SubjectState {
  return {
    key,
    phase: 'idle',
    episodeId: null,
    episodeStart: null,
    runStart: null,
    firstHit: null,
    lastHit: null,
    clearedAt: null,
    lastTime: null,
    level: 'candidate',
    resumed: false,
    hitWindow: [],
    scores: [],
    hitTimes: [],
    trackIds: [],
    boxes: [],
    eventSeq: 0,
    interval: null,
  };
}

function pushBounded<T>(xs: readonly T[], x: T, n: number): T[] {
  const out = [...xs, x];
  return out.length > n ? out.slice(out.length - n) : out;
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}

/** Seconds of presence needed for 'confirmed'; a warning stage replaces minDwellSec with warnAfterSec + graceSec. */
export function confirmDwell(p: DebounceParams): number {
  return p.warnAfterSec !== undefined ? p.warnAfterSec + (p.graceSec ?? 0) : p.minDwellSec;
}

/** Seconds after clearing during which the machine must be kept (merge window or cooldown). */
export function quietPeriod(p: DebounceParams): number {
  return Math.max(p.mergeWindowSec, p.cooldownSec);
}

export function thresholdsRecord(p: DebounceParams): Record<string, number> {
  const t: Record<string, number> = {
    minScore: p.minScore,
    minMedianScore: p.minMedianScore,
    exitMedianScore: p.exitMedianScore,
    minDwellSec: p.minDwellSec,
    minHits: p.minHits,
    window: p.window,
    maxGapSec: p.maxGapSec,
    cooldownSec: p.cooldownSec,
    mergeWindowSec: p.mergeWindowSec,
  };
  if (p.warnAfterSec !== undefined) t.warnAfterSec = p.warnAfterSec;
  if (p.graceSec !== undefined) t.graceSec = p.graceSec;
  if (p.minCount !== undefined) t.minCount = p.minCount;
  if (p.clusterGap !== undefined) t.clusterGap = p.clusterGap;
  return t;
}

function hitCount(s: SubjectState): number {
  return s.hitWindow.reduce((n, h) => n + (h ? 1 : 0), 0);
}

/**
 * Hits needed now: minHits of the window, scaled down only when the analysed rate cannot supply
 * that many frames over the span the run has lasted. At 2 fps a 10 s span holds 21 frames and the
 * rule stays exactly minHits; at 0.25 fps (keyframes, time-lapse recorders) a 12 s span holds 4,
 * and minHits counted in frames (12 = 48 s of frames) would never be reached, so the same share of
 * the frames the span can hold is required. A subject back-dated by its detector (a static blob
 * first reported at age 10 s) still has to be seen in as many frames as the rate allows.
 * `intervalSec` null (one observation so far): no relaxation.
 */
export function requiredHits(spanSec: number, intervalSec: number | null, p: Pick<DebounceParams, 'minHits' | 'window'>): number {
  if (intervalSec === null || !(intervalSec > 0)) return p.minHits;
  const frames = Math.floor(spanSec / intervalSec + 1e-9) + 1;
  return Math.min(p.minHits, Math.max(1, Math.ceil((p.minHits * frames) / p.window)));
}

/**
 * The span whose frames the hit share is counted over: the run's dwell, except that the part of a
 * back-dated run before its first observed hit counts only as far as the confirmation dwell needs.
 * Those frames can never be hits (the detector had not reported the subject yet: a static blob's
 * 10 s of ageing, a track's stationary window), and at 0.5 fps a bag first reported at age 10 s
 * would need 1.5× its back-dated frames after the report (15 s) before the share could be met.
 * Never looser than the share of the frames the confirmation dwell holds; at 2 fps that is ≥ 11
 * of 12 hits for dwells ≥ 8 s, so nothing changes there.
 */
function hitSpan(s: SubjectState, dwell: number, p: DebounceParams): number {
  if (s.firstHit === null || s.runStart === null || s.firstHit <= s.runStart) return dwell;
  return Math.min(dwell, Math.max(s.lastHit! - s.firstHit, confirmDwell(p)));
}

function emit(
  s: SubjectState,
  transition: DebounceState,
  obs: Pick<Observation, 'time' | 'wallTime'>,
  p: DebounceParams,
  note: string,
  end: number | null = null,
): DebounceEvent {
  s.eventSeq += 1;
  const episodeId = s.episodeId!;
  const start = s.episodeStart!;
  const reason: ReasonRecord = {
    classId: s.key.classId,
    zoneId: s.key.zoneId,
    zoneType: s.key.zoneType,
    subject: s.key.subject,
    trackIds: [...s.trackIds],
    dwellSec: s.runStart !== null && s.lastHit !== null ? round3(s.lastHit - s.runStart) : 0,
    hits: hitCount(s),
    window: p.window,
    medianScore: round3(median(s.scores) ?? 0),
    thresholds: thresholdsRecord(p),
    firstSeen: start,
    lastSeen: s.lastHit ?? start,
    frameTimes: [...s.hitTimes],
    note,
    resumed: false,
  };
  return {
    id: `${episodeId}.${s.eventSeq}`,
    episodeId,
    transition,
    level: s.level,
    time: obs.time,
    wallTime: obs.wallTime,
    start,
    end,
    boxes: [...s.boxes],
    reason,
  };
}

/** Marks an event as continuing a cleared episode (the typed flag consumers read instead of the note). */
function resumedEvent(e: DebounceEvent): DebounceEvent {
  e.reason.resumed = true;
  return e;
}

/** Opens a run at this hit: a new episode, or (resume) the previous one continued. */
function beginRun(s: SubjectState, obs: Observation, resume: boolean): void {
  s.hitWindow = [];
  s.scores = [];
  s.hitTimes = [];
  s.resumed = resume;
  if (!resume) {
    const start = obs.since !== undefined && obs.since < obs.time ? obs.since : obs.time;
    s.runStart = start;
    s.firstHit = obs.time;
    s.episodeStart = start;
    s.episodeId = episodeIdFor(s.key, start);
    s.level = 'candidate';
    s.eventSeq = 0;
    s.trackIds = [];
  }
  s.phase = 'candidate';
}

function record(s: SubjectState, obs: Observation, p: DebounceParams): void {
  s.hitWindow = pushBounded(s.hitWindow, obs.hit, p.window);
  if (obs.score !== undefined) s.scores = pushBounded(s.scores, obs.score, p.window);
  if (obs.hit) {
    s.lastHit = obs.time;
    s.hitTimes = pushBounded(s.hitTimes, obs.time, p.window);
    if (obs.boxes) s.boxes = obs.boxes;
    // Bounded: a long crowd episode sees hundreds of person ids; the newest are the useful ones.
    if (obs.trackIds) s.trackIds = [...new Set([...s.trackIds, ...obs.trackIds])].slice(-MAX_TRACK_IDS);
  }
}

/**
 * Advances one subject's machine by one observation. Returns a new state (the input is not
 * mutated) and the transitions that happened, each with its reason. Feed one observation per
 * analysed frame while the machine is not forgettable, including frames where the subject is
 * absent (hit false, no score): absences are what clear episodes.
 */
export function step(prev: SubjectState, obs: Observation, p: DebounceParams): { state: SubjectState; events: DebounceEvent[] } {
  if (prev.lastTime !== null && obs.time < prev.lastTime) {
    throw new Error(`debounce ${keyString(prev.key)}: observation at ${obs.time} s is before the previous one at ${prev.lastTime} s`);
  }
  const s: SubjectState = structuredClone(prev);
  const events: DebounceEvent[] = [];
  if (prev.lastTime !== null && obs.time > prev.lastTime) s.interval = obs.time - prev.lastTime;
  s.lastTime = obs.time;

  if (s.phase === 'cleared' && obs.time - s.clearedAt! > quietPeriod(p)) s.phase = 'idle';

  if (s.phase === 'idle') {
    if (!obs.hit) return { state: s, events };
    beginRun(s, obs, false);
    record(s, obs, p);
    events.push(emit(s, 'candidate', obs, p, 'first hit'));
    evaluate(s, obs, p, events);
    return { state: s, events };
  }

  if (s.phase === 'cleared') {
    if (!obs.hit) return { state: s, events };
    if (obs.time - s.clearedAt! <= p.mergeWindowSec) {
      beginRun(s, obs, true);
      record(s, obs, p);
      evaluate(s, obs, p, events);
    }
    // Otherwise within cooldown: the subject we just closed an episode for; stay quiet.
    return { state: s, events };
  }

  // candidate / warning / confirmed / active: a run is open.
  record(s, obs, p);
  const gap = obs.time - s.lastHit!;
  if (!obs.hit && gap > p.maxGapSec) {
    close(s, obs, p, `absent for ${round3(gap)} s > maxGapSec ${p.maxGapSec}`, events);
    return { state: s, events };
  }
  evaluate(s, obs, p, events);
  return { state: s, events };
}

/** Closes the open run. Candidates lapse; warned or confirmed episodes clear (end = last hit) and enter the quiet period. */
function close(
  s: SubjectState,
  obs: Pick<Observation, 'time' | 'wallTime'>,
  p: DebounceParams,
  why: string,
  events: DebounceEvent[],
): void {
  if (s.resumed) {
    // A resumed episode that never re-qualified: it stays cleared, its quiet period unchanged.
    s.phase = 'cleared';
    s.resumed = false;
    return;
  }
  if (s.level === 'candidate') {
    events.push(emit(s, 'cleared', obs, p, `candidate lapsed: ${why}`, s.lastHit));
    s.phase = 'idle';
    return;
  }
  events.push(emit(s, 'cleared', obs, p, why, s.lastHit));
  s.phase = 'cleared';
  s.clearedAt = obs.time;
}

function evaluate(s: SubjectState, obs: Observation, p: DebounceParams, events: DebounceEvent[]): void {
  const hits = hitCount(s);
  const med = median(s.scores) ?? 0;
  const dwell = s.lastHit! - s.runStart!;
  const lowMedian = obs.score !== undefined && med < p.exitMedianScore;

  if (s.phase === 'confirmed' || s.phase === 'active') {
    if (lowMedian) {
      close(s, obs, p, `median score ${round3(med)} < exitMedianScore ${p.exitMedianScore}`, events);
    } else if (s.phase === 'confirmed' && obs.hit) {
      s.phase = 'active';
      events.push(emit(s, 'active', obs, p, 'still present after confirmation'));
    }
    return;
  }
  if (s.phase === 'warning' && lowMedian) {
    close(s, obs, p, `median score ${round3(med)} < exitMedianScore ${p.exitMedianScore}`, events);
    return;
  }

  // A resumed run refills the full minHits: coming back must be as certain as the first time.
  const need = s.resumed ? p.minHits : requiredHits(hitSpan(s, dwell, p), s.interval, p);
  if (!obs.hit || hits < need || med < p.minMedianScore) return;
  const desc = `dwell ${round3(dwell)} s, ${hits}/${p.window} hits, median ${round3(med)}`;

  if (s.resumed) {
    s.resumed = false;
    if (s.level === 'confirmed') {
      // Same episode back within the merge window: continue it, no new case.
      s.phase = 'active';
      events.push(resumedEvent(emit(s, 'active', obs, p, `resumed within mergeWindowSec ${p.mergeWindowSec}: ${desc}`)));
      return;
    }
    // A warned subject came back: the warning stands and its grace keeps counting from the first presence.
    s.phase = 'warning';
    events.push(resumedEvent(emit(s, 'warning', obs, p, `warning resumed within mergeWindowSec ${p.mergeWindowSec}: ${desc}`)));
  }
  if (s.phase === 'candidate' && p.warnAfterSec !== undefined && dwell >= p.warnAfterSec) {
    s.phase = 'warning';
    s.level = 'warning';
    events.push(emit(s, 'warning', obs, p, `${desc}; dwell ≥ warnAfterSec ${p.warnAfterSec}`));
  }
  const dwellNeed = confirmDwell(p);
  if (dwell >= dwellNeed && (s.phase === 'candidate' || s.phase === 'warning')) {
    s.phase = 'confirmed';
    s.level = 'confirmed';
    events.push(emit(s, 'confirmed', obs, p, `${desc}; dwell ≥ ${dwellNeed} s`));
  }
}

/** True when the machine holds nothing worth keeping, so the engine may drop it. */
export function isForgettable(s: SubjectState, time: number, p: DebounceParams): boolean {
  if (s.phase === 'idle') return true;
  return s.phase === 'cleared' && time - s.clearedAt! > quietPeriod(p);
}

/** Ends whatever is open (end of stream, zone or class removed): episodes clear, candidates lapse. */
export function finish(
  prev: SubjectState,
  time: number,
  wallTime: number,
  p: DebounceParams,
  why: string,
): { state: SubjectState; events: DebounceEvent[] } {
  const s: SubjectState = structuredClone(prev);
  const events: DebounceEvent[] = [];
  if (s.phase === 'idle' || s.phase === 'cleared') return { state: s, events };
  close(s, { time, wallTime }, p, why, events);
  return { state: s, events };
}
