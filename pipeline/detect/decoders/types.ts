import type { ModelManifest } from '../../../models/manifest.js';

/** One model output tensor as the decoder sees it (row-major). */
export interface RawOutput {
  data: Float32Array;
  dims: readonly number[];
}

/** A scored box in model-input pixels, before NMS and before mapping back to the source. */
export interface Candidate {
  classId: number;
  score: number;
  x1: number;
  y1: number;
  x2: number;
  y2: number;
}

export interface DecodeContext {
  manifest: ModelManifest;
  /** Candidates below this are not produced at all (keeps NMS input small). */
  scoreThreshold: number;
}

/**
 * A decoder turns a model's raw outputs into candidates. Adding a model family (YOLOv8, SSD)
 * means a manifest with its `decoder.kind` plus one function of this type.
 */
export type DecoderFn = (outputs: Record<string, RawOutput>, ctx: DecodeContext) => Candidate[];
