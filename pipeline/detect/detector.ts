import type { Detection, Frame, FrameDetections, Letterbox } from '../types.js';
import { decoderFor, type Candidate, type DecoderFn } from './decoders/index.js';
import { candidateToSource, mergeTiled, type SourceCandidate } from './tiling.js';
import { nms, suppressContainedParts, suppressFamilyDuplicates } from './nms.js';
import type { ModelSession } from './session.js';
import { axisScales } from '../geometry/letterbox.js';

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
  /** How frames that carry tiles are merged (see pipeline/detect/tiling.ts). */
  tiling?: { includeFullFrame?: boolean; mergeIou?: number; mergeIos?: number };
}

/** Box edges this close (model px) to an inner tile border mark the box as cut by it. */
const CUT_MARGIN_PX = 8;

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
  private readonly tiling: NonNullable<DetectorOptions['tiling']>;

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
    this.tiling = opts.tiling ?? {};
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
    if (frame.tiles?.length) return this.detectTiled(frame);
    const outputs = await this.session.runFrame(frame);
    return this.fromOutputs(frame, outputs);
  }

  /** Decoding half of detect(), split out so benchmarks can time inference alone. */
  fromOutputs(frame: Frame, outputs: Parameters<DecoderFn>[0]): FrameDetections {
    const lb = frame.letterbox;
    const kept = this.suppress(nms(this.decodeFiltered(outputs), this.nmsIou, this.maxDetections));
    const { sx, sy } = axisScales(lb);
    const whole = { x: 0, y: 0, width: lb.srcWidth, height: lb.srcHeight };
    return this.toDetections(
      frame,
      kept.map((c) => candidateToSource(c, sx, sy, whole, lb.srcWidth, lb.srcHeight, 0)),
    );
  }

  /** The full frame (unless switched off) and every tile through the model, merged in source px. */
  private async detectTiled(frame: Frame): Promise<FrameDetections> {
    const { srcWidth, srcHeight } = frame.letterbox;
    const t = this.tiling;
    const cands: SourceCandidate[] = [];
    const add = (outputs: Parameters<DecoderFn>[0], lb: Letterbox, x: number, y: number) => {
      const { sx, sy } = axisScales(lb);
      const rect = { x, y, width: lb.srcWidth, height: lb.srcHeight };
      for (const c of this.decodeFiltered(outputs))
        cands.push(candidateToSource(c, sx, sy, rect, srcWidth, srcHeight, CUT_MARGIN_PX / Math.min(sx, sy)));
    };
    if (t.includeFullFrame !== false) add(await this.session.runFrame(frame), frame.letterbox, 0, 0);
    for (const tile of frame.tiles!) {
      add(
        await this.session.runFrame({ ...frame, data: tile.data, letterbox: tile.letterbox, tiles: undefined }),
        tile.letterbox,
        tile.x,
        tile.y,
      );
    }
    return this.toDetections(
      frame,
      this.suppress(mergeTiled(cands, { iou: t.mergeIou ?? 0.5, ios: t.mergeIos ?? 0.6 }, this.maxDetections)),
    );
  }

  private decodeFiltered(outputs: Parameters<DecoderFn>[0]): Candidate[] {
    const cands = this.decode(outputs, { manifest: this.session.manifest, scoreThreshold: this.scoreThreshold });
    return this.keep ? cands.filter((c) => this.keep!.has(c.classId)) : cands;
  }

  /** Family duplicates and contained parts, on score-sorted boxes (any one coordinate space). */
  private suppress(sorted: Candidate[]): Candidate[] {
    return suppressContainedParts(
      suppressFamilyDuplicates(sorted, this.familyIou, this.familyOf),
      this.partRatio,
      this.partClassIds,
      this.partMaxAreaRatio,
    );
  }

  /** Boxes already in source px → the frame's detections. */
  private toDetections(frame: Frame, kept: readonly Candidate[]): FrameDetections {
    const m = this.session.manifest;
    const { srcWidth, srcHeight } = frame.letterbox;
    const detections: Detection[] = [];
    for (const c of kept) {
      const box = { x1: c.x1, y1: c.y1, x2: c.x2, y2: c.y2 };
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
