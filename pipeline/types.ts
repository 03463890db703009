// Domain records shared by every pipeline stage. Kept free of I/O so any stage can import them.

/** Axis-aligned box in source-image pixels (x1,y1 top-left; x2,y2 bottom-right, exclusive). */
export interface Box {
  x1: number;
  y1: number;
  x2: number;
  y2: number;
}

/** Point in normalised image coordinates (0..1 on both axes, origin top-left). */
export type NormPoint = readonly [number, number];

/**
 * How a source frame was fitted into the model input: resized by `scale` keeping aspect,
 * anchored top-left, padded right/bottom. Source pixel = model pixel / scale.
 */
export interface Letterbox {
  /** Uniform scale of a letterboxed frame (source px → model px); for stretched frames min(scaleX, scaleY). */
  scale: number;
  /**
   * Per-axis scales (model px per source px), independent when stretched; absent means `scale`
   * on both axes. Read them through axisScales() (pipeline/geometry/letterbox.ts).
   */
  scaleX?: number;
  scaleY?: number;
  /** 'stretch': the picture fills dst without keeping its aspect ratio (no padding). Default letterbox. */
  mode?: 'letterbox' | 'stretch';
  srcWidth: number;
  srcHeight: number;
  /** Size of the resized image inside the padded canvas. */
  scaledWidth: number;
  scaledHeight: number;
  dstWidth: number;
  dstHeight: number;
}

export type PixelFormat = 'bgr24' | 'rgb24';

/**
 * A crop of the source (tiled inference), resized by ffmpeg to the model input like the whole
 * frame. `letterbox` maps the crop (srcWidth/srcHeight = the crop's size) into the model input;
 * `x`/`y` place the crop in source pixels.
 */
export interface FrameTile {
  data: Buffer;
  x: number;
  y: number;
  letterbox: Letterbox;
}

/**
 * A region of the source picture cut before the resize to the model input (see
 * pipeline/source/regions.ts), e.g. a wall zone whose poster text must be read at full resolution.
 */
export interface FrameRegion {
  /** The crop rectangle in source px. */
  x: number;
  y: number;
  width: number;
  height: number;
  /** Region px per source px (below 1 when a large region was scaled down). */
  scale: number;
  image: { data: Buffer; width: number; height: number; pixelFormat: PixelFormat };
}

/** One analysed frame, already letterboxed to the model input by ffmpeg. */
export interface Frame {
  /** Source-resolution crops of the regions the source was asked for (FrameSourceOptions.regions); match them by rectangle. */
  regions?: FrameRegion[];
  /** Tiles cut from the same source picture when tiled inference is on (see pipeline/detect/tiling.ts). */
  tiles?: FrameTile[];
  /** Packed interleaved pixels, dstWidth × dstHeight × 3. */
  data: Buffer;
  pixelFormat: PixelFormat;
  letterbox: Letterbox;
  /** 0-based index of analysed frames since the source started (never reset by reconnects). */
  index: number;
  /** Seconds on the stream's timeline; monotonic across reconnects. */
  streamTime: number;
  /** Epoch milliseconds when the frame left ffmpeg. */
  wallTime: number;
  /**
   * Live sources: estimated epoch ms of capture (the frame's pts on the wall clock of the session's
   * least-delayed frame), for frame-age measurement. Files: same as wallTime.
   */
  captureWall?: number;
}

/** One object found by a detector in one frame. */
export interface Detection {
  label: string;
  classId: number;
  score: number;
  /** Box in source pixels. */
  box: Box;
  /** Stream time (s) of the frame it was found in. */
  frameTime: number;
  /** Model that produced it (manifest name). */
  model: string;
  /** Optional payload of specialised detectors (e.g. recognised text, static-blob age). */
  attributes?: Record<string, unknown>;
  /** Colour histogram of the box's middle (pipeline/track/appearance.ts), for people and vehicles. */
  appearance?: number[];
}

export interface FrameDetections {
  frameIndex: number;
  streamTime: number;
  wallTime: number;
  sourceWidth: number;
  sourceHeight: number;
  detections: Detection[];
}

/** A tracked object, as the tracker reports it after each update. */
export interface Track {
  id: number;
  label: string;
  box: Box;
  score: number;
  /** Recent scores, newest last (bounded window) — the debouncer uses their median. */
  scores: number[];
  state: 'tentative' | 'confirmed' | 'lost';
  hits: number;
  firstSeen: number;
  lastSeen: number;
  stationary: boolean;
  /**
   * While stationary: the start of the window over which it was judged so (the object has not
   * moved since then), so dwell can be back-dated instead of starting when the window filled.
   */
  stationarySince?: number | null;
  /** Colour histogram of its last detection that had one (see Detection.appearance). */
  appearance?: number[];
}

export type Urgency = 'general' | 'urgent';

export type DebounceState = 'candidate' | 'warning' | 'confirmed' | 'active' | 'cleared';

/** Why a transition happened: everything an operator needs to audit a case. */
export interface ReasonRecord {
  classId: string;
  zoneId: string | null;
  zoneType: string | null;
  subject: string;
  trackIds: number[];
  dwellSec: number;
  hits: number;
  window: number;
  medianScore: number;
  thresholds: Record<string, number>;
  firstSeen: number;
  lastSeen: number;
  frameTimes: number[];
  note?: string;
  /**
   * This event continues an episode that had cleared: the subject came back within
   * mergeWindowSec and re-qualified (same episode id, no new case). Set on every event the
   * debouncer emits; absent only on records built elsewhere.
   */
  resumed?: boolean;
  /** What qualified the subject (or which rule refused it last), decided by the rules engine. */
  qualification?: Qualification;
}

/**
 * The rules engine's qualification facts for one episode, as of the event: each check the class
 * applies, with its numbers, recorded by the code that made the check (pipeline/rules/engine.ts,
 * `qualify()`), so "why was this a case" and "why was that not" are read from one record. Facts
 * are those of the last qualifying frame; `refused` names the rule that refused a later frame.
 */
export interface Qualification {
  /** Detector label of the subject (a zone count: its labels joined with '/'). */
  label: string;
  /** Stream time since which the subject has stood in place (a stationary track's window start, a static blob's first change, or when its owner walked off). */
  stationarySince?: number;
  /** Static objects: the last time a person stood by it (owner/object separation; its dwell counts from then). */
  attendedUntil?: number;
  /** Static objects: the blob's age as the static-change detector reported it (s). */
  staticAgeSec?: number;
  /** How the subject's box sits in the zone: the membership test and its numbers (see membershipDetail). */
  membership?: Record<string, number | string>;
  /** People standing together taken as one subject: their track ids. */
  memberIds?: number[];
  /**
   * A subject that vanished where it stood whose spot this one took, but was not continued: its
   * colours differ (appearance distance above the limit), so this is a newcomer.
   */
  notContinued?: { subject: string; appearanceDistance: number; maxDistance: number };
  /** Objects next to the subject that the class looks for (umbrella, cart, bicycle …). */
  companions?: { label: string; trackId: number; box: Box }[];
  /** Classes this one yields to: each checked, and whether the subject was a hit there (a hit there refuses it here). */
  yieldsTo?: { classId: string; hit: boolean }[];
  /** Zone types in which the class does not apply, and the zone the subject stood in (null: none). */
  excludedZones?: { types: string[]; inside: string | null };
  /** Person subjects: whether a box cut by the frame border may qualify, and the border cutting it (null: none). */
  borderCut?: { allowed: boolean; cut: 'left' | 'right' | 'bottom' | null };
  /** Classes with a shape rule: the shape wanted and the box's height/width. */
  shape?: { wants: 'flat' | 'not_flat'; heightOverWidth: number; flatMaxAspect: number };
  /** Count classes: the count, the limit and where it came from, and how the members were chosen. */
  count?: {
    count: number;
    limit: number;
    limitSource: 'zone.capacity' | 'minCount';
    tracksInZone?: number;
    stationary?: number;
    walkingExcluded?: number;
    clusterGap?: number;
    suppressed?: number;
  };
  /** The rule that refused the subject in the last refused frame of this run (absent while every seen frame qualified). */
  refused?: { rule: string; detail: string; time: number };
}

export interface ViolationEvent {
  /** Unique id of this event (one per transition). */
  id: string;
  /** Stable id of the episode (same across transitions and merged reappearances). */
  episodeId: string;
  cameraId: string;
  classId: string;
  transition: DebounceState;
  streamTime: number;
  wallTime: number;
  /** Episode start (first-seen) and, once cleared, end, in stream seconds. */
  start: number;
  end: number | null;
  boxes: Box[];
  reason: ReasonRecord;
  /** Payload of specialised detectors that is evidence, not a decision (OCR text, phone numbers); decision facts live in reason.qualification. */
  extras?: Record<string, unknown>;
}

export interface EvidenceFile {
  name: string;
  kind: 'clip' | 'snapshot' | 'crop' | 'manifest';
  contentType: string;
  bytes: number;
  sha256: string;
}

/** Where a piece of evidence lives in an evidence store. */
export interface EvidenceRef {
  store: 's3' | 'fs';
  key: string;
  file: EvidenceFile;
}
