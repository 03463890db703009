// Per-camera rules engine: one frame's detections and the tracks the tracking stage made of them
// in, violation events out (detect → track → rules; the engine does not own the tracker, it tells
// it what to follow through trackingScope()). It gives static blobs and text regions stable ids,
// decides per (class, zone, subject) whether this frame is a hit — recording each qualification
// check with its numbers in the episode's reason record — and lets the debouncer turn hits into
// episodes.
//
// Subjects: per-object classes follow one subject (a track, a static blob, a text region); count
// classes (crowd, bike pile-up) follow the zone itself. Schedules switch a (class, zone) off by
// feeding misses, so open episodes clear the normal way instead of vanishing.
import type { Box, Detection, FrameDetections, Qualification, Track, ViolationEvent } from '../types.js';
import { DEFAULT_TRACKER_OPTIONS } from '../track/byte-tracker.js';
import { appearanceDistance, DEFAULT_REASSOCIATE_MAX_APPEARANCE } from '../track/appearance.js';
import type { TrackingScope } from '../track/tracking-stage.js';
import { CATALOG, FLAT_MAX_ASPECT, getClass, type ClassDef, type ClassThresholds } from './catalog.js';
import { classStatus, effectiveThresholds, type ClassStatus } from './class-status.js';
import type { CameraConfig, Zone } from './config-schema.js';
import {
  finish,
  initialState,
  isForgettable,
  keyString,
  step,
  type DebounceEvent,
  type DebounceKey,
  type Observation,
  type Phase,
  type SubjectState,
} from './debounce.js';
import { iou } from '../geometry/geometry.js';
import { median } from '../stats.js';
import { BoxAssociator, boxGap, groupTextLines, isNextTo } from './subjects.js';
import { DEFAULT_INSIDE_MARGIN, membershipDetail, scheduleActive, zoneContains, zonesContaining } from './zones.js';
import { suppressionDetail, suppressionFor } from './suppressions.js';

export interface RulesEngineOptions {
  /** Labels the configured models produce; classes needing others are inactive. */
  availableLabels: ReadonlySet<string>;
  /** Also emit candidate-level events (first hits, lapsed candidates); for tuning and evaluation. Default false. */
  emitCandidates?: boolean;
  /**
   * A new subject whose box overlaps a recently seen, now-absent subject of the same class and
   * zone by this IoU continues that subject's episode: the tracker gives a new id after a long
   * occlusion, the car did not move. Default 0.5.
   */
  reassociateIou?: number;
  /**
   * ...unless both have a colour histogram (Detection.appearance) and their appearance distance
   * (Hellinger, 0–1) is above this: at 0.25–1 fps nobody is seen walking off, and the next person
   * standing in the same spot is a newcomer, not the same one back. Default 0.5.
   */
  reassociateMaxAppearance?: number;
  /** Matching of text regions / id-less static blobs across frames. */
  association?: { minIou: number; maxIdleSec: number };
  /**
   * Called for every subject in a class's zone that a rule refused this frame (not stationary,
   * cut by the frame border, crowd cluster too small, …) with the rule and its numbers: the
   * trace `analyze --explain` prints, so an operator can see why something was NOT a case.
   */
  onRefusal?: (r: Refusal) => void;
}

/** Why a subject seen in a class's zone was not a hit in one frame. */
export interface Refusal {
  time: number;
  classId: string;
  zoneId: string;
  subject: string;
  /** Short rule name: 'not_stationary', 'attended', 'border_cut', 'min_score', 'shape', 'companion', 'excluded_zone', 'yields', 'cluster', 'suppressed'. */
  rule: string;
  detail: string;
  /** The qualification record as far as the checks went (its `refused` is this rule): the same record an episode's reason carries. */
  qualification: Qualification;
}

/**
 * What one process() call decided for one (subject, class, zone) it judged: a hit (with the phase
 * its episode is in afterwards) or the rule that refused it. The live debug view shows these, so an
 * operator sees why each visible subject is or is not becoming a case.
 */
export interface SubjectDecision {
  /** 't<track>', 's<blob>'/'a<id>' static blobs, 'x<id>' text, 'zone' for count classes. */
  subject: string;
  trackId: number | null;
  /** Tracks of a group of people or of a counted zone. */
  memberIds?: number[];
  label: string;
  classId: string;
  zoneId: string;
  hit: boolean;
  /** Debouncer phase of the subject's episode after this frame; null when none is open. */
  phase: Phase | null;
  rule?: string;
  detail?: string;
}

export interface OpenEpisode {
  episodeId: string;
  classId: string;
  zoneId: string;
  subject: string;
  phase: Phase;
  start: number;
  lastSeen: number | null;
}

/** One thing seen in this frame that a class may be about. */
interface Subject {
  /** 't<track>' for tracker tracks, 's<blob>' for static blobs, 'x<id>' for text regions. */
  key: string;
  id: number;
  label: string;
  box: Box;
  score: number;
  stationary: boolean;
  /** Since when the subject has been in place (stationary track, static blob's first change). */
  since?: number;
  zones: ReadonlySet<string>;
  attributes?: Record<string, unknown>;
  /** A group of people standing together: the members' boxes and track ids. */
  members?: Box[];
  memberIds?: number[];
  /** Colour histogram of a tracked subject (none for groups and static blobs). */
  appearance?: number[];
}

interface Machine {
  state: SubjectState;
  classId: string;
  zoneId: string;
  label: string;
  /** Qualification facts of the last hit (plus the last refusal since): the events' reason.qualification. */
  facts?: Qualification;
  /** Specialised evidence of the last hit (OCR text, phones): the events' extras. */
  evidence?: Record<string, unknown>;
  /** Where the subject was last seen in the zone, hit or not (walking away is a miss with a box). */
  lastSeenBox?: Box;
  /** Colour histogram of the subject when last seen in the zone (undefined: none, e.g. a group). */
  appearance?: number[];
  /** Opened for a newcomer in the spot of a vanished subject whose colours differ: on the record. */
  notContinued?: Qualification['notContinued'];
}

/**
 * Which frame border cuts a box (within 0.5 % of the frame), or null. The top border is not
 * counted: a standing person's head may leave the picture while the feet, which place them in a
 * zone, are in full view.
 */
export function borderCut(b: Box, w: number, h: number): 'left' | 'right' | 'bottom' | null {
  if (!(w > 0 && h > 0)) return null;
  const mx = 0.005 * w;
  if (b.x1 <= mx) return 'left';
  if (b.x2 >= w - mx) return 'right';
  if (b.y2 >= h - 0.005 * h) return 'bottom';
  return null;
}

/** Indices of the largest single-linkage cluster of boxes: neighbours within `gap` × the taller box's height. */
export function largestCluster(boxes: readonly Box[], gap: number): number[] {
  const n = boxes.length;
  const parent = Array.from({ length: n }, (_, i) => i);
  const find = (i: number): number => (parent[i] === i ? i : (parent[i] = find(parent[i]!)));
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const a = boxes[i]!;
      const b = boxes[j]!;
      if (boxGap(a, b) <= gap * Math.max(a.y2 - a.y1, b.y2 - b.y1)) parent[find(i)] = find(j);
    }
  }
  const groups = new Map<number, number[]>();
  for (let i = 0; i < n; i++) groups.set(find(i), [...(groups.get(find(i)) ?? []), i]);
  let best: number[] = [];
  for (const g of groups.values()) if (g.length > best.length) best = g;
  return best;
}

const STATIC_LABEL = 'static_object';
const TEXT_LABEL = 'text';

export class RulesEngine {
  private config: CameraConfig;
  private readonly opts: Required<Omit<RulesEngineOptions, 'onRefusal'>> & { onRefusal?: (r: Refusal) => void };
  private frameSize = { w: 0, h: 0 };
  private now = 0;
  private readonly textIds: BoxAssociator;
  private readonly staticIds: BoxAssociator;
  private machines = new Map<string, Machine>();
  /** Static subject key → last time a person stood next to it (its dwell counts from then). */
  private attended = new Map<string, number>();
  /** Subject-level key → machine key it was re-associated to. */
  private aliases = new Map<string, string>();
  private pending: ViolationEvent[] = [];
  private active: { def: ClassDef; t: ClassThresholds }[] = [];
  /** Detector labels the tracking stage follows: subjects and companions of the active classes, with their families. */
  private trackedLabels = new Set<string>();
  private last: { streamTime: number; wallTime: number } | null = null;
  /** The tracks given with the current frame (owner/object separation and crowd counts read them). */
  private lastTracks: Track[] = [];
  private decisions: SubjectDecision[] = [];
  /** Label families as the tracking stage was built with them (a change of analysis settings needs a new engine). */
  private readonly labelFamilies: ReadonlyArray<readonly string[]>;

  constructor(config: CameraConfig, opts: RulesEngineOptions) {
    this.opts = {
      availableLabels: opts.availableLabels,
      emitCandidates: opts.emitCandidates ?? false,
      reassociateIou: opts.reassociateIou ?? config.analysis.reassociation?.minIou ?? 0.5,
      reassociateMaxAppearance:
        opts.reassociateMaxAppearance ?? config.analysis.reassociation?.maxAppearanceDistance ?? DEFAULT_REASSOCIATE_MAX_APPEARANCE,
      association: opts.association ?? { minIou: 0.3, maxIdleSec: 120 },
      ...(opts.onRefusal ? { onRefusal: opts.onRefusal } : {}),
    };
    if (!(this.opts.reassociateIou > 0 && this.opts.reassociateIou <= 1)) {
      throw new RangeError(`reassociateIou must be within (0, 1], got ${this.opts.reassociateIou}`);
    }
    if (!(this.opts.reassociateMaxAppearance > 0 && this.opts.reassociateMaxAppearance <= 1)) {
      throw new RangeError(`reassociateMaxAppearance must be within (0, 1], got ${this.opts.reassociateMaxAppearance}`);
    }
    this.config = config;
    this.labelFamilies = config.analysis.labelFamilies ?? DEFAULT_TRACKER_OPTIONS.labelFamilies;
    this.textIds = new BoxAssociator(this.opts.association);
    this.staticIds = new BoxAssociator(this.opts.association);
    this.refreshActive();
  }

  /**
   * Hot reload. Tracks and open episodes survive for classes and zones that still apply; new
   * thresholds, polygons and schedules take effect from the next frame. Episodes whose class was
   * disabled or whose zone was removed (or changed type) are cleared; those events come out of
   * the next process()/flush() call.
   */
  setConfig(config: CameraConfig): void {
    if (config.camera.id !== this.config.camera.id) {
      throw new Error(
        `setConfig: camera id cannot change on a running engine ("${this.config.camera.id}" → "${config.camera.id}"); create a new engine`,
      );
    }
    this.config = config;
    this.refreshActive();
    const zones = new Map(config.zones.map((z) => [z.id, z]));
    const activeIds = new Set(this.active.map((a) => a.def.id));
    for (const [key, m] of this.machines) {
      const def = getClass(m.classId);
      const zone = zones.get(m.zoneId);
      let why: string | null = null;
      if (!activeIds.has(m.classId)) why = 'class disabled by a config change';
      else if (!zone) why = `zone ${m.zoneId} removed by a config change`;
      else if (!def.zoneTypes.includes(zone.type)) why = `zone ${m.zoneId} changed type to ${zone.type}`;
      if (!why) continue;
      if (this.last) {
        const r = finish(m.state, this.last.streamTime, this.last.wallTime, this.thresholdsOf(def), why);
        this.pending.push(...this.toEvents(r.events, m));
      }
      this.machines.delete(key);
    }
    for (const [alias, target] of this.aliases) if (!this.machines.has(target)) this.aliases.delete(alias);
  }

  classStatus(): ClassStatus[] {
    return classStatus(this.opts.availableLabels, this.config);
  }

  /** Tracks after the last frame (all states), e.g. for overlays on evidence. */
  get tracks(): readonly Track[] {
    return this.lastTracks;
  }

  /** Per (subject, class, zone) judged in the last process() call: hit and phase, or the refusing rule. */
  get lastDecisions(): readonly SubjectDecision[] {
    return this.decisions;
  }

  openEpisodes(): OpenEpisode[] {
    const out: OpenEpisode[] = [];
    for (const m of this.machines.values()) {
      const s = m.state;
      if (s.phase === 'idle' || s.phase === 'cleared' || s.episodeId === null) continue;
      out.push({
        episodeId: s.episodeId,
        classId: m.classId,
        zoneId: m.zoneId,
        subject: s.key.subject,
        phase: s.phase,
        start: s.episodeStart!,
        lastSeen: s.lastHit,
      });
    }
    return out;
  }

  /**
   * What the tracking stage must follow in this frame, by the active classes and the zones: call
   * it before TrackingStage.update() and pass the tracks to process(). Checks the frame first, so
   * a bad frame is refused before anything is tracked.
   */
  trackingScope(frame: FrameDetections): TrackingScope {
    this.validate(frame);
    return { labels: this.trackedLabels, minScore: this.config.analysis.scoreThreshold };
  }

  /** One frame: its detections and the tracks the tracking stage made of them (in the scope trackingScope() gave). */
  process(frame: FrameDetections, tracks: readonly Track[]): ViolationEvent[] {
    this.validate(frame);
    this.decisions = [];
    const events = this.pending.splice(0);
    const t = frame.streamTime;
    const wall = frame.wallTime;
    const w = frame.sourceWidth;
    const h = frame.sourceHeight;
    this.frameSize = { w, h };
    this.now = t;
    const cfg = this.config;
    const dets = frame.detections.filter((d) => d.score >= cfg.analysis.scoreThreshold);

    const zoneIdsOf = (b: Box) => zonesContaining(cfg.zones, b, w, h, DEFAULT_INSIDE_MARGIN).map((z) => z.id);
    const plainZoneIdsOf = (b: Box) => zonesContaining(cfg.zones, b, w, h).map((z) => z.id);
    this.lastTracks = [...tracks];
    const subjects = this.subjects(dets, t, zoneIdsOf, plainZoneIdsOf);
    // Follow each tracked subject wherever it goes, in a zone or not: whether it walked off or
    // vanished in place decides if a newcomer in that spot may continue its episode.
    const seenNow = new Map(this.lastTracks.filter((tr) => tr.lastSeen === t).map((tr) => [tr.id, tr.box]));
    for (const m of this.machines.values()) {
      if (!m.state.key.subject.startsWith('t')) continue;
      const id = m.state.trackIds[m.state.trackIds.length - 1];
      const b = id !== undefined ? seenNow.get(id) : undefined;
      if (b) m.lastSeenBox = b;
    }
    const obs = (hit: boolean, score?: number, boxes?: Box[], trackIds?: number[], since?: number): Observation => {
      const o: Observation = { time: t, wallTime: wall, hit };
      if (hit && since !== undefined) o.since = since;
      if (score !== undefined) o.score = score;
      if (boxes) o.boxes = boxes;
      if (trackIds) o.trackIds = trackIds;
      return o;
    };

    const observed = new Set<string>();
    const feed = (mkey: string, o: Observation, facts?: Qualification, evidence?: Record<string, unknown>) => {
      const m = this.machines.get(mkey)!;
      observed.add(mkey);
      const r = step(m.state, o, this.thresholdsOf(getClass(m.classId)));
      m.state = r.state;
      if (o.hit && facts) {
        m.facts = m.notContinued ? { ...facts, notContinued: m.notContinued } : facts;
        m.evidence = evidence;
      }
      // A refused frame leaves its rule and numbers on the record, so a lapsed candidate says why.
      else if (!o.hit && facts?.refused) m.facts = { ...(m.facts ?? { label: facts.label }), refused: facts.refused };
      events.push(...this.toEvents(r.events, m));
    };

    const zoneOn = new Map(cfg.zones.map((z) => [z.id, scheduleActive(z.schedule, wall)]));
    for (const { def, t: p } of this.active) {
      if (!scheduleActive(cfg.classes[def.id]?.schedule, wall)) continue;
      for (const zone of cfg.zones) {
        if (!def.zoneTypes.includes(zone.type) || !zoneOn.get(zone.id)) continue;
        if (def.primitive === 'object_count') {
          this.countObservation(def, p, zone, dets, w, h, t, obs, feed, observed);
          continue;
        }
        const inZone = subjects.filter((s) => def.subjectLabels.includes(s.label) && s.zones.has(zone.id));
        for (const s of def.groupsPeople ? this.groupPeople(def, zone, inZone) : inZone) {
          const companions = this.companionsOf(def, s, subjects);
          const q: { facts: Qualification; refused: { rule: string; detail: string } | null } =
            s.score < p.minScore
              ? {
                  facts: { label: s.label },
                  refused: { rule: 'min_score', detail: `score ${s.score.toFixed(3)} < minScore ${p.minScore}` },
                }
              : this.qualify(def, s, companions, p);
          const facts = q.facts;
          let refused = q.refused;
          if (!refused && def.yieldsTo?.length) {
            facts.yieldsTo = this.yieldChecks(def, s, subjects);
            if (facts.yieldsTo.some((y) => y.hit))
              refused = { rule: 'yields', detail: `a hit for ${def.yieldsTo.join('/')}, which takes precedence` };
          }
          const hit = refused === null;
          let since = s.since;
          const attendedAt = this.attended.get(s.key);
          if (attendedAt !== undefined) facts.attendedUntil = attendedAt;
          if (attendedAt !== undefined && (since === undefined || since < attendedAt)) since = attendedAt;
          // Only a hit's facts reach the record (a refusal adds just its rule), or the refusal trace.
          if (def.primitive === 'object_dwell' && (hit || this.opts.onRefusal))
            facts.membership = membershipDetail(zone, s.box, w, h, s.key.startsWith('t') ? DEFAULT_INSIDE_MARGIN : 0);
          if (refused) {
            facts.refused = { ...refused, time: t };
            this.opts.onRefusal?.({ time: t, classId: def.id, zoneId: zone.id, subject: s.key, ...refused, qualification: facts });
          }
          // The live view's per-subject line (workers/live.ts): hit and phase, or the refusing rule.
          const decision: SubjectDecision = {
            subject: s.key,
            trackId: s.key.startsWith('t') ? s.id : null,
            label: s.label,
            classId: def.id,
            zoneId: zone.id,
            hit,
            phase: null,
            ...(refused ?? {}),
          };
          if (s.memberIds && s.memberIds.length > 1) decision.memberIds = [...s.memberIds];
          this.decisions.push(decision);
          let mkey = this.machineFor(def, zone, s, hit, observed);
          if (mkey && refused?.rule === 'attended' && this.machines.get(mkey)!.state.phase === 'candidate') {
            // Not left yet: a candidate started before its owner stood by it lapses, so its dwell
            // starts over when they have gone (not back-dated to the set-down).
            const m = this.machines.get(mkey)!;
            m.facts = { ...(m.facts ?? { label: s.label }), refused: { ...refused, time: t } };
            const r = finish(m.state, t, wall, p, `attended: ${refused.detail}`);
            events.push(...this.toEvents(r.events, m));
            this.machines.delete(mkey);
            mkey = null;
          }
          if (!mkey) continue;
          this.machines.get(mkey)!.lastSeenBox = s.box;
          this.machines.get(mkey)!.appearance = s.members ? undefined : s.appearance;
          feed(mkey, obs(hit, s.score, s.members ?? [s.box], s.memberIds ?? [s.id], since), facts, this.evidenceOf(def, s));
          decision.phase = this.machines.get(mkey)?.state.phase ?? null;
        }
      }
    }

    // Everything not seen this frame (absent, out of zone, or schedule off) gets a miss.
    for (const [key, m] of this.machines) {
      if (!observed.has(key)) feed(key, obs(false));
      if (isForgettable(m.state, t, this.thresholdsOf(getClass(m.classId)))) this.machines.delete(key);
    }
    for (const [alias, target] of this.aliases) if (!this.machines.has(target)) this.aliases.delete(alias);
    // An attended mark matters while its blob lives; blobs are forgotten long before an hour.
    for (const [k, at] of this.attended) if (t - at > 3600) this.attended.delete(k);
    this.last = { streamTime: t, wallTime: wall };
    return events;
  }

  /**
   * End of stream: clears every open episode (end = its last hit) and resets tracking, so the
   * engine can take a new stream. `time` is the stream time of the end.
   */
  flush(time: number, wallTime?: number): ViolationEvent[] {
    const events = this.pending.splice(0);
    const wall = wallTime ?? (this.last ? this.last.wallTime + (time - this.last.streamTime) * 1000 : 0);
    for (const m of this.machines.values()) {
      const r = finish(m.state, time, wall, this.thresholdsOf(getClass(m.classId)), 'end of stream');
      events.push(...this.toEvents(r.events, m));
    }
    this.machines.clear();
    this.aliases.clear();
    this.attended.clear();
    this.textIds.reset();
    this.staticIds.reset();
    this.lastTracks = [];
    this.last = null;
    return events;
  }

  private refreshActive(): void {
    const on = new Set(
      this.classStatus()
        .filter((s) => s.active)
        .map((s) => s.id),
    );
    this.active = CATALOG.filter((d) => on.has(d.id)).map((def) => ({ def, t: effectiveThresholds(def, this.config.classes[def.id]) }));
    const tracked = new Set<string>();
    for (const { def } of this.active) for (const l of [...def.subjectLabels, ...(def.companionLabels ?? [])]) tracked.add(l);
    tracked.delete(STATIC_LABEL);
    tracked.delete(TEXT_LABEL);
    // Static objects are judged against the people standing by them (owner/object separation).
    if (this.active.some((a) => a.def.subjectLabels.includes(STATIC_LABEL))) tracked.add('person');
    // A motorbike misread as a bicycle must still reach the tracker, or the flip splits its track.
    for (const fam of this.labelFamilies) {
      if (fam.some((l) => tracked.has(l))) for (const l of fam) tracked.add(l);
    }
    this.trackedLabels = tracked;
  }

  private thresholdsOf(def: ClassDef): ClassThresholds {
    return this.active.find((a) => a.def === def)?.t ?? effectiveThresholds(def, this.config.classes[def.id]);
  }

  private validate(f: FrameDetections): void {
    if (!Number.isFinite(f.streamTime)) throw new RangeError(`frame ${f.frameIndex}: streamTime must be finite, got ${f.streamTime}`);
    if (!Number.isFinite(f.wallTime)) throw new RangeError(`frame ${f.frameIndex}: wallTime must be finite epoch ms, got ${f.wallTime}`);
    if (!(f.sourceWidth > 0 && f.sourceHeight > 0)) {
      throw new RangeError(`frame ${f.frameIndex}: source size must be positive, got ${f.sourceWidth}x${f.sourceHeight}`);
    }
    if (this.last && f.streamTime < this.last.streamTime) {
      throw new RangeError(
        `frame ${f.frameIndex}: streamTime ${f.streamTime} s is before the previous frame (${this.last.streamTime} s); call flush() before a new stream`,
      );
    }
  }

  /** Tracks matched in this frame plus this frame's static blobs and text regions. */
  private subjects(
    dets: readonly Detection[],
    t: number,
    zoneIdsOf: (b: Box) => string[],
    plainZoneIdsOf: (b: Box) => string[],
  ): Subject[] {
    const out: Subject[] = [];
    for (const tr of this.lastTracks) {
      // Only confirmed tracks updated in this very frame: a lost track's box is a guess.
      if (tr.state !== 'confirmed' || tr.lastSeen !== t) continue;
      const s: Subject = {
        key: `t${tr.id}`,
        id: tr.id,
        label: tr.label,
        box: tr.box,
        score: tr.score,
        stationary: tr.stationary,
        zones: new Set(zoneIdsOf(tr.box)),
      };
      if (tr.stationary && typeof tr.stationarySince === 'number') s.since = tr.stationarySince;
      if (tr.appearance) s.appearance = tr.appearance;
      out.push(s);
    }
    const statics = dets.filter((d) => d.label === STATIC_LABEL);
    const withBlob = statics.filter((d) => Number.isInteger(d.attributes?.blobId));
    const withoutBlob = statics.filter((d) => !Number.isInteger(d.attributes?.blobId));
    // The static-change detector already keeps blob identity; reuse it rather than re-guess.
    for (const d of withBlob) out.push(this.staticSubject('s', d.attributes!.blobId as number, d, plainZoneIdsOf));
    for (const { id, det } of this.staticIds.assign(withoutBlob, t)) out.push(this.staticSubject('a', id, det, plainZoneIdsOf));
    for (const { id, det } of this.textIds.assign(groupTextLines(dets.filter((d) => d.label === TEXT_LABEL)), t))
      out.push(this.staticSubject('x', id, det, plainZoneIdsOf));
    return out;
  }

  private staticSubject(prefix: string, id: number, d: Detection, zoneIdsOf: (b: Box) => string[]): Subject {
    const s: Subject = {
      key: `${prefix}${id}`,
      id,
      label: d.label,
      box: d.box,
      score: d.score,
      stationary: true,
      zones: new Set(zoneIdsOf(d.box)),
    };
    if (d.attributes) s.attributes = d.attributes;
    if (typeof d.attributes?.firstSeen === 'number') s.since = d.attributes.firstSeen;
    return s;
  }

  private companionsOf(def: ClassDef, s: Subject, all: readonly Subject[]): Subject[] {
    const labels = def.companionLabels;
    if (!labels?.length) return [];
    return all.filter((o) => o !== s && labels.includes(o.label) && isNextTo(s.box, o.box));
  }

  /**
   * The class's qualification checks on a subject (apart from score and precedence), in order,
   * each recorded in `facts` with its numbers as it is made: all of them for a hit, those up to
   * the refusing rule otherwise (`refused`, null = qualifies). The one place these checks live, so
   * the decision and its record cannot disagree.
   */
  private qualify(
    def: ClassDef,
    s: Subject,
    companions: readonly Subject[],
    p: ClassThresholds,
  ): { facts: Qualification; refused: { rule: string; detail: string } | null } {
    const facts: Qualification = { label: s.label };
    const refuse = (rule: string, detail: string) => ({ facts, refused: { rule, detail } });
    // The operator's own word (a rejected case made into a suppression) comes before every heuristic.
    const sup = suppressionFor(this.config.suppressions, def.id, s.box, this.frameSize.w, this.frameSize.h);
    if (sup) return refuse('suppressed', suppressionDetail(sup));
    if (def.requiresStationary && !s.stationary) return refuse('not_stationary', 'the tracker does not see it standing still');
    if (s.since !== undefined) facts.stationarySince = s.since;
    if (s.memberIds) facts.memberIds = [...s.memberIds];
    if (s.label === STATIC_LABEL) {
      if (typeof s.attributes?.ageSec === 'number') facts.staticAgeSec = s.attributes.ageSec;
      // A person standing by the change — the blob is the person, or the bag is still theirs —
      // is not a left object; its dwell starts when they have gone (owner/object separation).
      const owner = this.standingPersonBy(s.box);
      if (owner) {
        this.attended.set(s.key, this.now);
        return refuse(
          'attended',
          `person track ${owner.id} standing ${Math.round(boxGap(owner.box, s.box))} px from it (≤ 0.5 × its height ${Math.round(owner.box.y2 - owner.box.y1)} px)`,
        );
      }
    }
    if (p.allowBorderCut === false && s.label === 'person') {
      const cut = borderCut(s.box, this.frameSize.w, this.frameSize.h);
      facts.borderCut = { allowed: false, cut };
      if (cut) return refuse('border_cut', `box touches the ${cut} frame border (allowBorderCut false)`);
    }
    if (companions.length) facts.companions = companions.map((c) => ({ label: c.label, trackId: c.id, box: c.box }));
    if (def.companionRequired && companions.length === 0) return refuse('companion', `no ${def.companionLabels?.join('/')} next to it`);
    if (def.excludedZoneTypes?.length) {
      const excluded = this.config.zones.find((z) => def.excludedZoneTypes!.includes(z.type) && s.zones.has(z.id));
      facts.excludedZones = { types: [...def.excludedZoneTypes], inside: excluded?.id ?? null };
      if (excluded) return refuse('excluded_zone', `inside ${excluded.type} zone ${excluded.id}`);
    }
    if (def.shape) {
      const bw = s.box.x2 - s.box.x1;
      const aspect = bw > 0 ? (s.box.y2 - s.box.y1) / bw : Infinity;
      const flat = aspect <= FLAT_MAX_ASPECT;
      facts.shape = { wants: def.shape, heightOverWidth: Math.round(aspect * 1000) / 1000, flatMaxAspect: FLAT_MAX_ASPECT };
      if ((def.shape === 'flat') !== flat)
        return refuse('shape', `height/width ${aspect.toFixed(2)} ${flat ? '≤' : '>'} ${FLAT_MAX_ASPECT} (class wants ${def.shape})`);
    }
    return { facts, refused: null };
  }

  /** A stationary person track (seen now, or lost within the tracker's timeout) next to a box. */
  private standingPersonBy(box: Box): Track | undefined {
    return this.lastTracks.find((tr) => tr.label === 'person' && tr.state !== 'tentative' && tr.stationary && isNextTo(tr.box, box));
  }

  /**
   * People standing next to each other (single linkage, isNextTo) become one subject keyed by the
   * member that already has an episode in this (class, zone), else the lowest track id: two men
   * talking, a vendor and a helper are one group and one case. Walking people are not grouped.
   */
  private groupPeople(def: ClassDef, zone: Zone, subjects: readonly Subject[]): Subject[] {
    const people = subjects.filter((s) => s.label === 'person' && s.stationary && s.key.startsWith('t'));
    if (people.length < 2) return [...subjects];
    const n = people.length;
    const parent = Array.from({ length: n }, (_, i) => i);
    const find = (i: number): number => (parent[i] === i ? i : (parent[i] = find(parent[i]!)));
    for (let i = 0; i < n; i++)
      for (let j = i + 1; j < n; j++)
        if (isNextTo(people[i]!.box, people[j]!.box) || isNextTo(people[j]!.box, people[i]!.box)) parent[find(i)] = find(j);
    const groups = new Map<number, Subject[]>();
    people.forEach((s, i) => groups.set(find(i), [...(groups.get(find(i)) ?? []), s]));
    const grouped = new Set<Subject>();
    const out: Subject[] = [];
    for (const g of groups.values()) {
      if (g.length < 2) continue;
      g.forEach((s) => grouped.add(s));
      const hasMachine = (s: Subject) => {
        const own = keyString({ cameraId: this.config.camera.id, classId: def.id, zoneId: zone.id, zoneType: zone.type, subject: s.key });
        return this.machines.has(this.aliases.get(own) ?? own);
      };
      const lead = [...g].sort((a, b) => Number(hasMachine(b)) - Number(hasMachine(a)) || a.id - b.id)[0]!;
      const sinces = g.map((s) => s.since).filter((x): x is number => x !== undefined);
      const group: Subject = {
        ...lead,
        box: {
          x1: Math.min(...g.map((s) => s.box.x1)),
          y1: Math.min(...g.map((s) => s.box.y1)),
          x2: Math.max(...g.map((s) => s.box.x2)),
          y2: Math.max(...g.map((s) => s.box.y2)),
        },
        score: Math.max(...g.map((s) => s.score)),
        members: g.map((s) => s.box),
        memberIds: g.map((s) => s.id),
      };
      if (sinces.length) group.since = Math.min(...sinces);
      out.push(group);
    }
    return [...subjects.filter((s) => !grouped.has(s)), ...out];
  }

  /**
   * The classes this one yields to (mobile_vendor over street_vending) that could claim the
   * subject, each with whether it is a hit there; a hit there is not a hit here. Stops at the
   * first hit, as precedence needs no more.
   */
  private yieldChecks(def: ClassDef, s: Subject, all: readonly Subject[]): { classId: string; hit: boolean }[] {
    const out: { classId: string; hit: boolean }[] = [];
    for (const id of def.yieldsTo ?? []) {
      const other = this.active.find((a) => a.def.id === id);
      if (!other || !other.def.subjectLabels.includes(s.label)) continue;
      const inItsZone = this.config.zones.some((z) => other.def.zoneTypes.includes(z.type) && s.zones.has(z.id));
      const hit =
        inItsZone && this.qualify(other.def, s, this.companionsOf(other.def, s, all), this.thresholdsOf(other.def)).refused === null;
      out.push({ classId: id, hit });
      if (hit) break;
    }
    return out;
  }

  /** What a specialised detector found that is evidence rather than a decision (OCR text, phone numbers). */
  private evidenceOf(def: ClassDef, s: Subject): Record<string, unknown> | undefined {
    const a = s.attributes;
    if (def.primitive !== 'text' || !a) return undefined;
    const x: Record<string, unknown> = {};
    if (typeof a.text === 'string') x.text = a.text;
    if (Array.isArray(a.phones)) x.phones = a.phones;
    return Object.keys(x).length ? x : undefined;
  }

  /**
   * Machine key for a subject in a (class, zone): its own, the one it was re-associated to, or
   * (on a hit) an absent machine with the same box that it continues, else a new one. Returns
   * null for a non-hit with nothing open (nothing to record).
   */
  private machineFor(def: ClassDef, zone: Zone, s: Subject, hit: boolean, observed: ReadonlySet<string>): string | null {
    const key: DebounceKey = { cameraId: this.config.camera.id, classId: def.id, zoneId: zone.id, zoneType: zone.type, subject: s.key };
    const own = keyString(key);
    const aliased = this.aliases.get(own);
    if (aliased && this.machines.has(aliased) && !observed.has(aliased)) return aliased;
    if (this.machines.has(own) && !observed.has(own)) return own;
    if (!hit) return null;
    // A track already counted in an episode of this (class, zone) — a member of a group whose
    // other member is missed this frame — continues that episode rather than opening its own.
    if (s.key.startsWith('t')) {
      for (const [k, m] of this.machines) {
        if (observed.has(k) || m.classId !== def.id || m.zoneId !== zone.id || m.state.phase === 'idle') continue;
        if ((s.memberIds ?? [s.id]).some((id) => m.state.trackIds.includes(id))) {
          this.aliases.set(own, k);
          return k;
        }
      }
    }
    let best: { k: string; v: number } | null = null;
    let differs: Machine['notContinued'];
    for (const [k, m] of this.machines) {
      if (observed.has(k) || m.classId !== def.id || m.zoneId !== zone.id || m.label !== s.label) continue;
      if (m.state.phase === 'idle' || m.state.key.subject[0] !== s.key[0]) continue;
      const last = m.state.boxes[0];
      if (!last) continue;
      // Only a subject that vanished where it stood (occlusion, id switch) is continued; one seen
      // walking off before it vanished has left, and the next person or car in that spot is new.
      if (m.lastSeenBox && iou(m.lastSeenBox, last) < this.opts.reassociateIou) continue;
      const v = iou(last, s.box);
      if (v < this.opts.reassociateIou || (best && v <= best.v)) continue;
      // Same spot, but clearly other colours: the next person at the table, not the same one back.
      if (m.appearance && s.appearance && !s.members) {
        const d = appearanceDistance(m.appearance, s.appearance);
        if (d > this.opts.reassociateMaxAppearance) {
          differs = { subject: m.state.key.subject, appearanceDistance: d, maxDistance: this.opts.reassociateMaxAppearance };
          continue;
        }
      }
      best = { k, v };
    }
    if (best) {
      this.aliases.set(own, best.k);
      return best.k;
    }
    // A subject whose own key is taken this frame (two ids on one object) starts nothing new.
    if (this.machines.has(own)) return null;
    this.machines.set(own, {
      state: initialState(key),
      classId: def.id,
      zoneId: zone.id,
      label: s.label,
      ...(differs ? { notContinued: differs } : {}),
    });
    return own;
  }

  private countObservation(
    def: ClassDef,
    p: ClassThresholds,
    zone: Zone,
    dets: readonly Detection[],
    w: number,
    h: number,
    t: number,
    obs: (hit: boolean, score?: number, boxes?: Box[], trackIds?: number[], since?: number) => Observation,
    feed: (mkey: string, o: Observation, facts?: Qualification) => void,
    observed: Set<string>,
  ): void {
    let members: { box: Box; score: number; trackId?: number }[];
    let since: number | undefined;
    const extras: { tracksInZone?: number; stationary?: number; walkingExcluded?: number; clusterGap?: number; suppressed?: number } = {};
    if (def.countsStationaryCluster) {
      // Distinct confirmed tracks seen now, standing still, in the zone; then the largest cluster
      // of them. Raw detections would count a street of people walking past as a crowd.
      const inZone = this.lastTracks.filter(
        (tr) =>
          def.subjectLabels.includes(tr.label) &&
          tr.state === 'confirmed' &&
          tr.lastSeen === t &&
          tr.score >= p.minScore &&
          zoneContains(zone, tr.box, w, h),
      );
      const still = inZone.filter((tr) => tr.stationary);
      const cluster = largestCluster(
        still.map((tr) => tr.box),
        p.clusterGap ?? 1,
      );
      members = cluster.map((i) => ({ box: still[i]!.box, score: still[i]!.score, trackId: still[i]!.id }));
      // The gathering has stood since its limit-th member stood still (each back-dated by the
      // tracker's stationary window), as a parked car's dwell starts when it stopped.
      const limitNow = zone.capacity !== undefined ? zone.capacity + 1 : (p.minCount ?? 1);
      const sinces = cluster
        .map((i) => still[i]!.stationarySince)
        .filter((x): x is number => typeof x === 'number')
        .sort((a, b) => a - b);
      if (sinces.length >= limitNow) since = sinces[limitNow - 1];
      extras.tracksInZone = inZone.length;
      extras.stationary = still.length;
      extras.walkingExcluded = inZone.length - still.length;
      extras.clusterGap = p.clusterGap ?? 1;
    } else {
      // Raw detections: a pile of bikes is rarely tracked one by one, and counting needs only presence.
      const boxKey = (b: Box) => `${b.x1},${b.y1},${b.x2},${b.y2}`;
      const trackOf = new Map(
        this.lastTracks.filter((tr) => tr.lastSeen === t && tr.state !== 'lost').map((tr) => [boxKey(tr.box), tr.id]),
      );
      members = dets
        .filter((d) => def.subjectLabels.includes(d.label) && d.score >= p.minScore && zoneContains(zone, d.box, w, h))
        .map((d) => {
          const m: { box: Box; score: number; trackId?: number } = { box: d.box, score: d.score };
          const id = trackOf.get(boxKey(d.box));
          if (id !== undefined) m.trackId = id;
          return m;
        });
    }
    // Members standing in a suppression of this class are not counted.
    const kept = members.filter((m) => !suppressionFor(this.config.suppressions, def.id, m.box, w, h));
    if (kept.length < members.length) {
      extras.suppressed = members.length - kept.length;
      members = kept;
    }
    const count = members.length;
    const limit = zone.capacity !== undefined ? zone.capacity + 1 : (p.minCount ?? 1);
    const hit = count >= limit;
    const facts: Qualification = {
      label: def.subjectLabels.join('/'),
      count: { count, limit, limitSource: zone.capacity !== undefined ? 'zone.capacity' : 'minCount', ...extras },
    };
    if (since !== undefined) facts.stationarySince = since;
    let refusal: { rule: string; detail: string } | null = null;
    if (!hit && def.countsStationaryCluster && count > 0) {
      refusal = {
        rule: 'cluster',
        detail: `largest standing cluster ${count} < ${limit} (${extras.stationary} standing, ${extras.walkingExcluded} walking excluded)`,
      };
      facts.refused = { ...refusal, time: t };
      this.opts.onRefusal?.({ time: t, classId: def.id, zoneId: zone.id, subject: 'zone', ...refusal, qualification: facts });
    } else if (!hit && count > 0)
      refusal = {
        rule: 'count',
        detail: `${count} in the zone < ${limit} (${zone.capacity !== undefined ? 'zone.capacity + 1' : 'minCount'})`,
      };
    const memberIds = members.map((m) => m.trackId).filter((id): id is number => id !== undefined);
    const decision: SubjectDecision = {
      subject: 'zone',
      trackId: null,
      memberIds,
      label: def.subjectLabels.join('/'),
      classId: def.id,
      zoneId: zone.id,
      hit,
      phase: null,
      ...(refusal ?? {}),
    };
    if (count > 0 || hit) this.decisions.push(decision);
    const key: DebounceKey = { cameraId: this.config.camera.id, classId: def.id, zoneId: zone.id, zoneType: zone.type, subject: 'zone' };
    const mkey = keyString(key);
    if (!this.machines.has(mkey)) {
      if (!hit) return;
      this.machines.set(mkey, { state: initialState(key), classId: def.id, zoneId: zone.id, label: def.subjectLabels.join('/') });
    }
    const trackIds = members.map((m) => m.trackId).filter((id): id is number => id !== undefined);
    const score = median(members.map((d) => d.score)) ?? undefined;
    feed(
      mkey,
      obs(
        hit,
        score,
        members.map((d) => d.box),
        trackIds,
        since,
      ),
      facts,
    );
    observed.add(mkey);
    decision.phase = this.machines.get(mkey)?.state.phase ?? null;
  }

  private toEvents(des: readonly DebounceEvent[], m: Machine): ViolationEvent[] {
    const out: ViolationEvent[] = [];
    for (const de of des) {
      if (de.level === 'candidate' && !this.opts.emitCandidates) continue;
      const ev: ViolationEvent = {
        id: de.id,
        episodeId: de.episodeId,
        cameraId: this.config.camera.id,
        classId: m.classId,
        transition: de.transition,
        streamTime: de.time,
        wallTime: de.wallTime,
        start: de.start,
        end: de.end,
        boxes: de.boxes,
        reason: m.facts ? { ...de.reason, qualification: { ...m.facts } } : de.reason,
      };
      if (m.evidence) ev.extras = { ...m.evidence };
      out.push(ev);
    }
    return out;
  }
}
