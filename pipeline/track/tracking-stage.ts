// The tracking stage of one camera, between detection and the rules: detections of one frame in,
// tracks out (detect → track → rules). Which detections are followed, above which score, and which
// zones a box counts as being in are the rules' business (they depend on the active classes and
// the zones); the rules engine hands them over per frame as a TrackingScope, so the tracker itself
// stays free of classes and zones. Pure and deterministic, like the ByteTracker it wraps.
import type { FrameDetections, Track } from '../types.js';
import { ByteTracker, type TrackerOptions } from './byte-tracker.js';

/** What to track in one frame (from RulesEngine.trackingScope). */
export interface TrackingScope {
  /** Detector labels followed: subjects and companions of the active classes, with their label families. */
  labels: ReadonlySet<string>;
  /** Detections below this score are not tracked (the camera's analysis.scoreThreshold). */
  minScore: number;
}

/** The tracker-related part of a camera's analysis config. */
export interface TrackingConfig {
  tracker?: Partial<TrackerOptions>;
  labelFamilies?: ReadonlyArray<readonly string[]>;
}

export class TrackingStage {
  private tracker: ByteTracker;
  private last: Track[] = [];

  constructor(options: Partial<TrackerOptions> = {}) {
    this.tracker = new ByteTracker(options);
  }

  /** A camera's tuning and label families, then any caller override (live analysis, replays and sweep re-runs alike). */
  static forCamera(analysis: TrackingConfig, override: Partial<TrackerOptions> = {}): TrackingStage {
    return new TrackingStage({
      ...analysis.tracker,
      ...(analysis.labelFamilies ? { labelFamilies: analysis.labelFamilies } : {}),
      ...override,
    });
  }

  /** Every track held after this frame (tentative, confirmed and lost), sorted by id. */
  update(frame: FrameDetections, scope: TrackingScope): Track[] {
    const dets = frame.detections.filter((d) => d.score >= scope.minScore && scope.labels.has(d.label));
    // The frame size lets stationarity tell box edges cut by the frame border from real ones.
    this.last = this.tracker.update(dets, frame.streamTime, { width: frame.sourceWidth, height: frame.sourceHeight });
    return this.last;
  }

  /** Tracks after the last frame, e.g. for overlays on evidence. */
  get tracks(): readonly Track[] {
    return this.last;
  }

  /** A new stream: forget every track and restart ids. */
  reset(): void {
    this.tracker.reset();
    this.last = [];
  }
}
