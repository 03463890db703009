import type { Detection, Frame, FrameDetections } from '../types.js';
import { decoderFor, type DecoderFn } from './decoders/index.js';
import { nms, suppressContainedParts, suppressFamilyDuplicates } from './nms.js';
import { frameToTensorData } from './preprocess.js';
import type { ModelSession } from './session.js';
import { axisScales } from '../source/letterbox.js';

export interface DetectorOptions {
  /** Minimum final score (objectness × class) kept. */
  scoreThreshold?: number;
  nmsIou?: number;
  /** Keep only these labels (all when empty/undefined). */
  labels?: readonly string[];
  maxDetections?: number;
  /** Same-label boxes inside a higher-scored box are parts of it (see suppressContainedParts). */
  containedParts?: { ratio: number; labels: readonly string[]; maxAreaRatio?: number };
  /** Labels confused on one object (see TrackerOptions.labelFamilies); overlapping boxes keep the best. */
  labelFamilies?: ReadonlyArray<readonly string[]>;
  /** IoU above which two family members are one object. Default 0.7. */
  familyIou?: number;
}

/** Frame in, detections in source pixels out. Stateless apart from the shared session. */
export class ObjectDetector {
  private readonly decode: DecoderFn;
  private readonly keep: Set<number> | null;
  readonly scoreThreshold: number;
  readonly nmsIou: number;
  private readonly maxDetections: number;
  private readonly partRatio: number;
  private readonly partMaxAreaRatio: number;
  private readonly partClassIds: Set<number>;
  private readonly familyOf: Map<number, number>;
  private readonly familyIou: number;

  constructor(
    readonly session: ModelSession,
    opts: DetectorOptions = {},
  ) {
    const m = session.manifest;
    this.decode = decoderFor(m.decoder.kind);
    this.scoreThreshold = opts.scoreThreshold ?? 0.25;
    this.nmsIou = opts.nmsIou ?? 0.45;
    this.maxDetections = opts.maxDetections ?? 300;
    this.partRatio = opts.containedParts?.ratio ?? 1;
    this.partMaxAreaRatio = opts.containedParts?.maxAreaRatio ?? 0.75;
    // Labels this model lacks are ignored: the default list names COCO labels for every model.
    this.familyOf = new Map(
      (opts.labelFamilies ?? []).flatMap((f, i) => f.map((l) => [m.labels.indexOf(l), i] as const).filter(([id]) => id >= 0)),
    );
    this.familyIou = opts.familyIou ?? 0.7;
    this.partClassIds = new Set((opts.containedParts?.labels ?? []).map((l) => m.labels.indexOf(l)).filter((i) => i >= 0));
    if (opts.labels?.length) {
      const unknown = opts.labels.filter((l) => !m.labels.includes(l));
      if (unknown.length) throw new Error(`model ${m.name} has no label(s) ${unknown.join(', ')}`);
      this.keep = new Set(opts.labels.map((l) => m.labels.indexOf(l)));
    } else {
      this.keep = null;
    }
  }

  get modelName(): string {
    return this.session.manifest.name;
  }

  async detect(frame: Frame): Promise<FrameDetections> {
    const outputs = await this.session.run(frameToTensorData(frame, this.session.manifest));
    return this.fromOutputs(frame, outputs);
  }

  /** Decoding half of detect(), split out so benchmarks can time inference alone. */
  fromOutputs(frame: Frame, outputs: Parameters<DecoderFn>[0]): FrameDetections {
    const m = this.session.manifest;
    let cands = this.decode(outputs, { manifest: m, scoreThreshold: this.scoreThreshold });
    if (this.keep) cands = cands.filter((c) => this.keep!.has(c.classId));
    const byClass = nms(cands, this.nmsIou, this.maxDetections);
    const kept = suppressContainedParts(suppressFamilyDuplicates(byClass, this.familyIou, this.familyOf), this.partRatio, this.partClassIds, this.partMaxAreaRatio);
    const { srcWidth, srcHeight } = frame.letterbox;
    const { sx, sy } = axisScales(frame.letterbox);
    const clampX = (v: number) => Math.min(srcWidth, Math.max(0, v / sx));
    const clampY = (v: number) => Math.min(srcHeight, Math.max(0, v / sy));
    const detections: Detection[] = [];
    for (const c of kept) {
      const box = { x1: clampX(c.x1), y1: clampY(c.y1), x2: clampX(c.x2), y2: clampY(c.y2) };
      if (box.x2 - box.x1 < 1 || box.y2 - box.y1 < 1) continue; // entirely in the padding
      detections.push({ label: m.labels[c.classId]!, classId: c.classId, score: c.score, box, frameTime: frame.streamTime, model: m.name });
    }
    return {
      frameIndex: frame.index,
      streamTime: frame.streamTime,
      wallTime: frame.wallTime,
      sourceWidth: srcWidth,
      sourceHeight: srcHeight,
      detections,
    };
  }
}
