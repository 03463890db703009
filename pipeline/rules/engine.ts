// Per-camera rules engine: detections of one frame in, violation events out. It tracks movable
// objects, gives static blobs and text regions stable ids, decides per (class, zone, subject)
// whether this frame is a hit, and lets the debouncer turn hits into episodes.
//
// Subjects: per-object classes follow one subject (a track, a static blob, a text region); count
// classes (crowd, bike pile-up) follow the zone itself. Schedules switch a (class, zone) off by
// feeding misses, so open episodes clear the normal way instead of vanishing.
import type { Box, Detection, FrameDetections, Track, ViolationEvent } from '../types.js';
import { ByteTracker, DEFAULT_TRACKER_OPTIONS, type TrackerOptions } from '../track/byte-tracker.js';
import { CATALOG, FLAT_MAX_ASPECT, getClass, type ClassDef, type ClassThresholds } from './catalog.js';
import { classStatus, effectiveThresholds, type ClassStatus } from './class-status.js';
import type { CameraConfig, Zone } from './config-schema.js';
import {
  finish,
  initialState,
  isForgettable,
  keyString,
  median,
  step,
  type DebounceEvent,
  type DebounceKey,
  type Observation,
  type Phase,
  type SubjectState,
} from './debounce.js';
import { iou } from '../geometry/geometry.js';
import { BoxAssociator, boxGap, groupTextLines, isNextTo } from './subjects.js';
import { DEFAULT_INSIDE_MARGIN, membershipDetail, scheduleActive, zoneContains, zonesContaining } from './zones.js';

export interface RulesEngineOptions {
  /** Labels the configured models produce; classes needing others are inactive. */
  availableLabels: ReadonlySet<string>;
  tracker?: Partial<TrackerOptions>;
  /** Also emit candidate-level events (first hits, lapsed candidates); for tuning and evaluation. Default false. */
  emitCandidates?: boolean;
  /**
   * A new subject whose box overlaps a recently seen, now-absent subject of the same class and
   * zone by this IoU continues that subject's episode: the tracker gives a new id after a long
   * occlusion, the car did not move. Default 0.5.
   */
  reassociateIou?: number;
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
  /** Short rule name: 'not_stationary', 'border_cut', 'min_score', 'shape', 'companion', 'excluded_zone', 'yields', 'cluster'. */
  rule: string;
  detail: string;
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
}

interface Machine {
  state: SubjectState;
  classId: string;
  zoneId: string;
  label: string;
  extras?: Record<string, unknown>;
  /** Where the subject was last seen in the zone, hit or not (walking away is a miss with a box). */
  lastSeenBox?: Box;
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
  private readonly opts: Required<Omit<RulesEngineOptions, 'tracker' | 'onRefusal'>> & { tracker: Partial<TrackerOptions>; onRefusal?: (r: Refusal) => void };
  private frameSize = { w: 0, h: 0 };
  private now = 0;
  private tracker: ByteTracker;
  private readonly textIds: BoxAssociator;
  private readonly staticIds: BoxAssociator;
  private machines = new Map<string, Machine>();
  /** Static subject key → last time a person stood next to it (its dwell counts from then). */
  private attended = new Map<string, number>();
  /** Subject-level key → machine key it was re-associated to. */
  private aliases = new Map<string, string>();
  private pending: ViolationEvent[] = [];
  private active: { def: ClassDef; t: ClassThresholds }[] = [];
  /** Detector labels fed to the tracker: subjects and companions of the active classes, with their families. */
  private trackedLabels = new Set<string>();
  private last: { streamTime: number; wallTime: number } | null = null;
  private lastTracks: Track[] = [];

  constructor(config: CameraConfig, opts: RulesEngineOptions) {
    this.opts = {
      availableLabels: opts.availableLabels,
      // The camera config's tracker tuning and label families, then any caller override: the same
      // for live analysis, replays and sweep re-runs.
      tracker: { ...config.analysis.tracker, labelFamilies: config.analysis.labelFamilies, ...opts.tracker },
      emitCandidates: opts.emitCandidates ?? false,
      reassociateIou: opts.reassociateIou ?? 0.5,
      association: opts.association ?? { minIou: 0.3, maxIdleSec: 120 },
      ...(opts.onRefusal ? { onRefusal: opts.onRefusal } : {}),
    };
    if (!(this.opts.reassociateIou > 0 && this.opts.reassociateIou <= 1)) {
      throw new RangeError(`reassociateIou must be within (0, 1], got ${this.opts.reassociateIou}`);
    }
    this.config = config;
    this.tracker = new ByteTracker(this.opts.tracker);
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
      throw new Error(`setConfig: camera id cannot change on a running engine ("${this.config.camera.id}" → "${config.camera.id}"); create a new engine`);
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

  openEpisodes(): OpenEpisode[] {
    const out: OpenEpisode[] = [];
    for (const m of this.machines.values()) {
      const s = m.state;
      if (s.phase === 'idle' || s.phase === 'cleared' || s.episodeId === null) continue;
      out.push({ episodeId: s.episodeId, classId: m.classId, zoneId: m.zoneId, subject: s.key.subject, phase: s.phase, start: s.episodeStart!, lastSeen: s.lastHit });
    }
    return out;
  }

  process(frame: FrameDetections): ViolationEvent[] {
    this.validate(frame);
    const events = this.pending.splice(0);
    const t = frame.streamTime;
    const wall = frame.wallTime;
    const w = frame.sourceWidth;
    const h = frame.sourceHeight;
    this.frameSize = { w, h };
    this.now = t;
    const cfg = this.config;
    const dets = frame.detections.filter((d) => d.score >= cfg.analysis.scoreThreshold);

    // Tracked vehicles and people must stand clearly inside; blobs and text keep the plain test.
    const zoneIdsOf = (b: Box) => zonesContaining(cfg.zones, b, w, h, DEFAULT_INSIDE_MARGIN).map((z) => z.id);
    const plainZoneIdsOf = (b: Box) => zonesContaining(cfg.zones, b, w, h).map((z) => z.id);
    this.lastTracks = this.tracker.update(
      dets.filter((d) => this.trackedLabels.has(d.label)),
      t,
      zoneIdsOf,
    );
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
    const feed = (mkey: string, o: Observation, extras?: Record<string, unknown>) => {
      const m = this.machines.get(mkey)!;
      observed.add(mkey);
      const r = step(m.state, o, this.thresholdsOf(getClass(m.classId)));
      m.state = r.state;
      if (o.hit && extras) m.extras = extras;
      // A refused frame leaves its rule and numbers on the record, so a lapsed candidate says why.
      else if (!o.hit && extras?.refused) m.extras = { ...m.extras, refused: extras.refused };
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
          const refused =
            s.score < p.minScore
              ? { rule: 'min_score', detail: `score ${s.score.toFixed(3)} < minScore ${p.minScore}` }
              : (this.refusal(def, s, companions, p) ?? (this.yields(def, s, subjects) ? { rule: 'yields', detail: `a hit for ${def.yieldsTo!.join('/')}, which takes precedence` } : null));
          const hit = refused === null;
          let since = s.since;
          const attendedAt = this.attended.get(s.key);
          if (attendedAt !== undefined && (since === undefined || since < attendedAt)) since = attendedAt;
          if (refused) this.opts.onRefusal?.({ time: t, classId: def.id, zoneId: zone.id, subject: s.key, ...refused });
          let mkey = this.machineFor(def, zone, s, hit, observed);
          if (mkey && refused?.rule === 'attended' && this.machines.get(mkey)!.state.phase === 'candidate') {
            // Not left yet: a candidate started before its owner stood by it lapses, so its dwell
            // starts over when they have gone (not back-dated to the set-down).
            const m = this.machines.get(mkey)!;
            const r = finish(m.state, t, wall, p, `attended: ${refused.detail}`);
            events.push(...this.toEvents(r.events, m));
            this.machines.delete(mkey);
            mkey = null;
          }
          if (!mkey) continue;
          this.machines.get(mkey)!.lastSeenBox = s.box;
          const extras = this.extrasOf(def, s, companions);
          if (extras && def.primitive === 'object_dwell') extras.membership = membershipDetail(zone, s.box, w, h, s.key.startsWith('t') ? DEFAULT_INSIDE_MARGIN : 0);
          if (refused && extras) extras.refused = `${refused.rule}: ${refused.detail}`;
          feed(mkey, obs(hit, s.score, s.members ?? [s.box], s.memberIds ?? [s.id], since), extras);
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
    this.tracker.reset();
    this.textIds.reset();
    this.staticIds.reset();
    this.lastTracks = [];
    this.last = null;
    return events;
  }

  private refreshActive(): void {
    const on = new Set(this.classStatus().filter((s) => s.active).map((s) => s.id));
    this.active = CATALOG.filter((d) => on.has(d.id)).map((def) => ({ def, t: effectiveThresholds(def, this.config.classes[def.id]) }));
    const tracked = new Set<string>();
    for (const { def } of this.active) for (const l of [...def.subjectLabels, ...(def.companionLabels ?? [])]) tracked.add(l);
    tracked.delete(STATIC_LABEL);
    tracked.delete(TEXT_LABEL);
    // Static objects are judged against the people standing by them (owner/object separation).
    if (this.active.some((a) => a.def.subjectLabels.includes(STATIC_LABEL))) tracked.add('person');
    // A motorbike misread as a bicycle must still reach the tracker, or the flip splits its track.
    for (const fam of this.opts.tracker.labelFamilies ?? DEFAULT_TRACKER_OPTIONS.labelFamilies) {
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
      throw new RangeError(`frame ${f.frameIndex}: streamTime ${f.streamTime} s is before the previous frame (${this.last.streamTime} s); call flush() before a new stream`);
    }
  }

  /** Tracks matched in this frame plus this frame's static blobs and text regions. */
  private subjects(dets: readonly Detection[], t: number, zoneIdsOf: (b: Box) => string[], plainZoneIdsOf: (b: Box) => string[]): Subject[] {
    const out: Subject[] = [];
    for (const tr of this.lastTracks) {
      // Only confirmed tracks updated in this very frame: a lost track's box is a guess.
      if (tr.state !== 'confirmed' || tr.lastSeen !== t) continue;
      const s: Subject = { key: `t${tr.id}`, id: tr.id, label: tr.label, box: tr.box, score: tr.score, stationary: tr.stationary, zones: new Set(zoneIdsOf(tr.box)) };
      if (tr.stationary && typeof tr.stationarySince === 'number') s.since = tr.stationarySince;
      out.push(s);
    }
    const statics = dets.filter((d) => d.label === STATIC_LABEL);
    const withBlob = statics.filter((d) => Number.isInteger(d.attributes?.blobId));
    const withoutBlob = statics.filter((d) => !Number.isInteger(d.attributes?.blobId));
    // The static-change detector already keeps blob identity; reuse it rather than re-guess.
    for (const d of withBlob) out.push(this.staticSubject('s', d.attributes!.blobId as number, d, plainZoneIdsOf));
    for (const { id, det } of this.staticIds.assign(withoutBlob, t)) out.push(this.staticSubject('a', id, det, plainZoneIdsOf));
    for (const { id, det } of this.textIds.assign(groupTextLines(dets.filter((d) => d.label === TEXT_LABEL)), t)) out.push(this.staticSubject('x', id, det, plainZoneIdsOf));
    return out;
  }

  private staticSubject(prefix: string, id: number, d: Detection, zoneIdsOf: (b: Box) => string[]): Subject {
    const s: Subject = { key: `${prefix}${id}`, id, label: d.label, box: d.box, score: d.score, stationary: true, zones: new Set(zoneIdsOf(d.box)) };
    if (d.attributes) s.attributes = d.attributes;
    if (typeof d.attributes?.firstSeen === 'number') s.since = d.attributes.firstSeen;
    return s;
  }

  private companionsOf(def: ClassDef, s: Subject, all: readonly Subject[]): Subject[] {
    const labels = def.companionLabels;
    if (!labels?.length) return [];
    return all.filter((o) => o !== s && labels.includes(o.label) && isNextTo(s.box, o.box));
  }

  /** Whether a subject seen in one of the class's zones is a hit, apart from score and precedence. */
  private qualifies(def: ClassDef, s: Subject, companions: readonly Subject[]): boolean {
    return this.refusal(def, s, companions, this.thresholdsOf(def)) === null;
  }

  /** The rule that refuses a subject (apart from score and precedence), with its numbers; null = qualifies. */
  private refusal(def: ClassDef, s: Subject, companions: readonly Subject[], p: ClassThresholds): { rule: string; detail: string } | null {
    if (def.requiresStationary && !s.stationary) return { rule: 'not_stationary', detail: 'the tracker does not see it standing still' };
    if (s.label === STATIC_LABEL) {
      // A person standing by the change — the blob is the person, or the bag is still theirs —
      // is not a left object; its dwell starts when they have gone (owner/object separation).
      const owner = this.standingPersonBy(s.box);
      if (owner) {
        this.attended.set(s.key, this.now);
        return { rule: 'attended', detail: `person track ${owner.id} standing ${Math.round(boxGap(owner.box, s.box))} px from it (≤ 0.5 × its height ${Math.round(owner.box.y2 - owner.box.y1)} px)` };
      }
    }
    if (p.allowBorderCut === false && s.label === 'person') {
      const cut = borderCut(s.box, this.frameSize.w, this.frameSize.h);
      if (cut) return { rule: 'border_cut', detail: `box touches the ${cut} frame border (allowBorderCut false)` };
    }
    if (def.companionRequired && companions.length === 0) return { rule: 'companion', detail: `no ${def.companionLabels?.join('/')} next to it` };
    if (def.excludedZoneTypes?.length) {
      const excluded = this.config.zones.find((z) => def.excludedZoneTypes!.includes(z.type) && s.zones.has(z.id));
      if (excluded) return { rule: 'excluded_zone', detail: `inside ${excluded.type} zone ${excluded.id}` };
    }
    if (def.shape) {
      const bw = s.box.x2 - s.box.x1;
      const aspect = bw > 0 ? (s.box.y2 - s.box.y1) / bw : Infinity;
      const flat = aspect <= FLAT_MAX_ASPECT;
      if ((def.shape === 'flat') !== flat) return { rule: 'shape', detail: `height/width ${aspect.toFixed(2)} ${flat ? '≤' : '>'} ${FLAT_MAX_ASPECT} (class wants ${def.shape})` };
    }
    return null;
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
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) if (isNextTo(people[i]!.box, people[j]!.box) || isNextTo(people[j]!.box, people[i]!.box)) parent[find(i)] = find(j);
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
        box: { x1: Math.min(...g.map((s) => s.box.x1)), y1: Math.min(...g.map((s) => s.box.y1)), x2: Math.max(...g.map((s) => s.box.x2)), y2: Math.max(...g.map((s) => s.box.y2)) },
        score: Math.max(...g.map((s) => s.score)),
        members: g.map((s) => s.box),
        memberIds: g.map((s) => s.id),
      };
      if (sinces.length) group.since = Math.min(...sinces);
      out.push(group);
    }
    return [...subjects.filter((s) => !grouped.has(s)), ...out];
  }

  /** A subject that is a hit for a class this one yields to (mobile_vendor over street_vending) is not a hit here. */
  private yields(def: ClassDef, s: Subject, all: readonly Subject[]): boolean {
    for (const id of def.yieldsTo ?? []) {
      const other = this.active.find((a) => a.def.id === id);
      if (!other || !other.def.subjectLabels.includes(s.label)) continue;
      const inItsZone = this.config.zones.some((z) => other.def.zoneTypes.includes(z.type) && s.zones.has(z.id));
      if (inItsZone && this.qualifies(other.def, s, this.companionsOf(other.def, s, all))) return true;
    }
    return false;
  }

  private extrasOf(def: ClassDef, s: Subject, companions: readonly Subject[]): Record<string, unknown> | undefined {
    const x: Record<string, unknown> = { label: s.label };
    if (companions.length) x.companions = companions.map((c) => ({ label: c.label, trackId: c.id, box: c.box }));
    const a = s.attributes;
    if (def.primitive === 'text' && a) {
      if (typeof a.text === 'string') x.text = a.text;
      if (Array.isArray(a.phones)) x.phones = a.phones;
    }
    if (s.label === STATIC_LABEL && a && typeof a.ageSec === 'number') x.staticAgeSec = a.ageSec;
    return x;
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
    for (const [k, m] of this.machines) {
      if (observed.has(k) || m.classId !== def.id || m.zoneId !== zone.id || m.label !== s.label) continue;
      if (m.state.phase === 'idle' || m.state.key.subject[0] !== s.key[0]) continue;
      const last = m.state.boxes[0];
      if (!last) continue;
      // Only a subject that vanished where it stood (occlusion, id switch) is continued; one seen
      // walking off before it vanished has left, and the next person or car in that spot is new.
      if (m.lastSeenBox && iou(m.lastSeenBox, last) < this.opts.reassociateIou) continue;
      const v = iou(last, s.box);
      if (v >= this.opts.reassociateIou && (!best || v > best.v)) best = { k, v };
    }
    if (best) {
      this.aliases.set(own, best.k);
      return best.k;
    }
    // A subject whose own key is taken this frame (two ids on one object) starts nothing new.
    if (this.machines.has(own)) return null;
    this.machines.set(own, { state: initialState(key), classId: def.id, zoneId: zone.id, label: s.label });
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
    feed: (mkey: string, o: Observation, extras?: Record<string, unknown>) => void,
    observed: Set<string>,
  ): void {
    let members: { box: Box; score: number; trackId?: number }[];
    let since: number | undefined;
    const extras: Record<string, unknown> = {};
    if (def.countsStationaryCluster) {
      // Distinct confirmed tracks seen now, standing still, in the zone; then the largest cluster
      // of them. Raw detections would count a street of people walking past as a crowd.
      const inZone = this.lastTracks.filter((tr) => def.subjectLabels.includes(tr.label) && tr.state === 'confirmed' && tr.lastSeen === t && tr.score >= p.minScore && zoneContains(zone, tr.box, w, h));
      const still = inZone.filter((tr) => tr.stationary);
      const cluster = largestCluster(still.map((tr) => tr.box), p.clusterGap ?? 1);
      members = cluster.map((i) => ({ box: still[i]!.box, score: still[i]!.score, trackId: still[i]!.id }));
      // The gathering has stood since its limit-th member stood still (each back-dated by the
      // tracker's stationary window), as a parked car's dwell starts when it stopped.
      const limitNow = zone.capacity !== undefined ? zone.capacity + 1 : (p.minCount ?? 1);
      const sinces = cluster.map((i) => still[i]!.stationarySince).filter((x): x is number => typeof x === 'number').sort((a, b) => a - b);
      if (sinces.length >= limitNow) since = sinces[limitNow - 1];
      extras.tracksInZone = inZone.length;
      extras.stationary = still.length;
      extras.walkingExcluded = inZone.length - still.length;
      extras.clusterGap = p.clusterGap ?? 1;
    } else {
      // Raw detections: a pile of bikes is rarely tracked one by one, and counting needs only presence.
      const boxKey = (b: Box) => `${b.x1},${b.y1},${b.x2},${b.y2}`;
      const trackOf = new Map(this.lastTracks.filter((tr) => tr.lastSeen === t && tr.state !== 'lost').map((tr) => [boxKey(tr.box), tr.id]));
      members = dets
        .filter((d) => def.subjectLabels.includes(d.label) && d.score >= p.minScore && zoneContains(zone, d.box, w, h))
        .map((d) => {
          const m: { box: Box; score: number; trackId?: number } = { box: d.box, score: d.score };
          const id = trackOf.get(boxKey(d.box));
          if (id !== undefined) m.trackId = id;
          return m;
        });
    }
    const count = members.length;
    const limit = zone.capacity !== undefined ? zone.capacity + 1 : (p.minCount ?? 1);
    const hit = count >= limit;
    if (!hit && def.countsStationaryCluster && count > 0) {
      this.opts.onRefusal?.({ time: t, classId: def.id, zoneId: zone.id, subject: 'zone', rule: 'cluster', detail: `largest standing cluster ${count} < ${limit} (${extras.stationary} standing, ${extras.walkingExcluded} walking excluded)` });
    }
    const key: DebounceKey = { cameraId: this.config.camera.id, classId: def.id, zoneId: zone.id, zoneType: zone.type, subject: 'zone' };
    const mkey = keyString(key);
    if (!this.machines.has(mkey)) {
      if (!hit) return;
      this.machines.set(mkey, { state: initialState(key), classId: def.id, zoneId: zone.id, label: def.subjectLabels.join('/') });
    }
    const trackIds = members.map((m) => m.trackId).filter((id): id is number => id !== undefined);
    const score = count > 0 ? median(members.map((d) => d.score)) : undefined;
    feed(mkey, obs(hit, score, members.map((d) => d.box), trackIds, since), { count, limit, limitSource: zone.capacity !== undefined ? 'zone.capacity' : 'minCount', ...extras });
    observed.add(mkey);
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
        reason: de.reason,
      };
      if (m.extras) ev.extras = { ...m.extras };
      out.push(ev);
    }
    return out;
  }
}
