// One camera's analysis in one place, in data-flow order: frame → detect (object detector, plus the
// static-change and text detectors when the camera's zones need them) → track (the tracking stage,
// following what the rules' trackingScope names) → rules (the engine, given detections and tracks)
// → events. The CLI, the stream workers, API replays and the evaluator all use this, so a replay
// and a live camera decide the same way.
import type { ClassStatus } from './rules/class-status.js';
import type { CameraConfig } from './rules/config-schema.js';
import { auxiliaryDetectors, detectorLabels, TEXT_ZONE_TYPES } from './rules/labels.js';
import { RulesEngine, type RulesEngineOptions } from './rules/engine.js';
import { ObjectDetector } from './detect/detector.js';
import { TrackingStage } from './track/tracking-stage.js';
import type { ModelSession } from './detect/session.js';
import { StaticChangeDetector, type StaticChangeOptions } from './detect/static-change.js';
import { TextDetector, textDetectionsFromFrame } from './detect/text/index.js';
import { toPixels } from './geometry/geometry.js';
import { axisScales } from './geometry/letterbox.js';
import { colourHistogram } from './track/appearance.js';
import type { RegionRequest } from './source/regions.js';
import type { Box, Detection, Frame, FrameDetections, Track, ViolationEvent } from './types.js';

/** Labels whose boxes are moving actors, kept out of the static-change detector's blobs. */
const ACTOR_LABELS = new Set(['person', 'bicycle', 'car', 'motorcycle', 'bus', 'truck']);

export interface AnalyzerOptions {
  session: ModelSession;
  /** A text detector to share across cameras; created on demand when a wall zone needs one. */
  textDetector?: TextDetector | null;
  /** Seconds between OCR passes over wall zones (OCR costs ~0.1–0.5 s a pass on a CPU core). */
  textIntervalSec?: number;
  staticChange?: Partial<StaticChangeOptions>;
  engine?: Omit<RulesEngineOptions, 'availableLabels'>;
}

export interface AnalysisResult {
  detections: FrameDetections;
  events: ViolationEvent[];
}

/**
 * Stamps people and vehicles with the colour histogram of their box's middle, read from the
 * letterboxed frame the detector saw (no extra decode): the rules refuse to continue a subject
 * that vanished in place with a newcomer whose colours clearly differ.
 */
function withAppearance(dets: Detection[], frame: Frame): void {
  const lb = frame.letterbox;
  const { sx, sy } = axisScales(lb);
  const img = { data: frame.data, width: lb.dstWidth, height: lb.dstHeight, pixelFormat: frame.pixelFormat };
  for (const d of dets) {
    if (!ACTOR_LABELS.has(d.label)) continue;
    const h = colourHistogram(img, { x1: d.box.x1 * sx, y1: d.box.y1 * sy, x2: d.box.x2 * sx, y2: d.box.y2 * sy });
    if (h) d.appearance = h;
  }
}

/**
 * Regions the frame source should also deliver at source resolution (FrameSourceOptions.regions):
 * the bounds of the text zones, when analysis.text.sourceResolution is on. Normalised 0..1.
 */
export function sourceRegions(config: CameraConfig): { regions: RegionRequest[]; regionMaxSide: number } {
  const regions: RegionRequest[] = [];
  if (config.analysis.text.sourceResolution) {
    for (const z of config.zones) {
      if (!TEXT_ZONE_TYPES.has(z.type)) continue;
      const xs = z.polygon.map((p) => p[0]);
      const ys = z.polygon.map((p) => p[1]);
      regions.push({ x1: Math.min(...xs), y1: Math.min(...ys), x2: Math.max(...xs), y2: Math.max(...ys) });
    }
  }
  return { regions, regionMaxSide: config.analysis.text.maxSide };
}

function zoneBounds(poly: readonly (readonly [number, number])[], w: number, h: number): Box {
  const px = toPixels(poly as [number, number][], w, h);
  const xs = px.map((p) => p[0]);
  const ys = px.map((p) => p[1]);
  return { x1: Math.min(...xs), y1: Math.min(...ys), x2: Math.max(...xs), y2: Math.max(...ys) };
}

export class CameraAnalyzer {
  private config: CameraConfig;
  private detector: ObjectDetector;
  private readonly tracking: TrackingStage;
  private readonly engine: RulesEngine;
  private staticDetector: StaticChangeDetector | null = null;
  private staticKey = '';
  private textDetector: TextDetector | null;
  private lastTextAt = -Infinity;
  private lastText: Detection[] = [];

  private constructor(
    config: CameraConfig,
    private readonly opts: AnalyzerOptions,
    textDetector: TextDetector | null,
  ) {
    this.config = config;
    this.textDetector = textDetector;
    this.detector = this.makeDetector(config);
    // Built once: tracker tuning is analysis config, and an analysis change restarts the camera.
    this.tracking = TrackingStage.forCamera(config.analysis);
    this.engine = new RulesEngine(config, { ...opts.engine, availableLabels: this.availableLabels() });
    this.configureStatic();
  }

  static async create(config: CameraConfig, opts: AnalyzerOptions): Promise<CameraAnalyzer> {
    if (opts.session.manifest.name !== config.analysis.model) {
      throw new Error(
        `camera ${config.camera.id} wants model "${config.analysis.model}" but the session is "${opts.session.manifest.name}"`,
      );
    }
    let text = opts.textDetector ?? null;
    if (!text && opts.textDetector !== null && auxiliaryDetectors(config).text) {
      text = await TextDetector.create({ threads: 1 });
    }
    return new CameraAnalyzer(config, opts, text);
  }

  /** Labels the configured detectors can produce (decides which classes are active). */
  availableLabels(): Set<string> {
    return detectorLabels(this.opts.session.manifest.labels, this.config, { ocr: this.textDetector !== null });
  }

  get cameraConfig(): CameraConfig {
    return this.config;
  }

  /** The rules engine (open episodes, thresholds), e.g. for verification windows. */
  get rules(): RulesEngine {
    return this.engine;
  }

  /** Tracks after the last frame (all states), e.g. for overlays on evidence. */
  get tracks(): readonly Track[] {
    return this.tracking.tracks;
  }

  /** Stateless apart from the shared session, so a reload simply builds a new one. */
  private makeDetector(config: CameraConfig): ObjectDetector {
    return new ObjectDetector(this.opts.session, {
      scoreThreshold: config.analysis.scoreThreshold,
      nmsIou: config.analysis.nmsIou,
      containedParts: config.analysis.containedParts,
      labelFamilies: config.analysis.labelFamilies,
      tiling: config.analysis.tiling,
    });
  }

  private configureStatic(): void {
    if (!auxiliaryDetectors(this.config).static) {
      this.staticDetector = null;
      return;
    }
    const opts = { ...this.config.analysis.staticChange, ...this.opts.staticChange };
    // Same tuning: keep what the background model has learnt. New tuning: start a fresh model.
    if (this.staticDetector && JSON.stringify(opts) === this.staticKey) return;
    this.staticDetector = new StaticChangeDetector(opts);
    this.staticKey = JSON.stringify(opts);
  }

  /** Hot reload: thresholds, zones and schedules apply from the next frame; tracks survive. */
  setConfig(config: CameraConfig): void {
    this.engine.setConfig(config);
    this.config = config;
    this.detector = this.makeDetector(config);
    this.configureStatic();
  }

  classStatus(): ClassStatus[] {
    return this.engine.classStatus();
  }

  async process(frame: Frame): Promise<AnalysisResult> {
    const all = await this.detect(frame);
    const tracks = this.tracking.update(all, this.engine.trackingScope(all));
    return { detections: all, events: this.engine.process(all, tracks) };
  }

  /** Every detector this camera needs, on one frame. */
  private async detect(frame: Frame): Promise<FrameDetections> {
    const detections = await this.detector.detect(frame);
    withAppearance(detections.detections, frame);
    const extra: Detection[] = [];
    if (this.staticDetector) {
      const actors = detections.detections.filter((d) => ACTOR_LABELS.has(d.label)).map((d) => d.box);
      const blobs = this.staticDetector.update(frame, actors);
      extra.push(...this.staticDetector.toDetections(blobs, frame));
    }
    const textIntervalSec = this.opts.textIntervalSec ?? 5;
    if (this.textDetector && auxiliaryDetectors(this.config).text) {
      // OCR is the expensive part; between passes the last result stands, stamped with this frame's time.
      if (frame.streamTime - this.lastTextAt >= textIntervalSec) {
        const { srcWidth, srcHeight } = frame.letterbox;
        const regions = this.config.zones.filter((z) => TEXT_ZONE_TYPES.has(z.type)).map((z) => zoneBounds(z.polygon, srcWidth, srcHeight));
        this.lastText = await textDetectionsFromFrame(this.textDetector, frame, regions);
        this.lastTextAt = frame.streamTime;
      }
      extra.push(...this.lastText.map((d) => ({ ...d, frameTime: frame.streamTime })));
    }
    return { ...detections, detections: [...detections.detections, ...extra] };
  }

  /** End of a file: clears open episodes so every episode has an end, and forgets the tracks. */
  flush(time: number, wallTime?: number): ViolationEvent[] {
    const events = this.engine.flush(time, wallTime);
    this.tracking.reset();
    return events;
  }
}
