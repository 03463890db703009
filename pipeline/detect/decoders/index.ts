import type { DecoderFn } from './types.js';
import { decodePicodet } from './picodet.js';
import { decodeYolox } from './yolox.js';

export type { Candidate, DecodeContext, DecoderFn, RawOutput } from './types.js';

/** Decoder kinds a manifest may name. yolov8 and ssd are declared in the manifest schema and land here as one function each. */
const DECODERS: Record<string, DecoderFn> = {
  yolox: decodeYolox,
  picodet: decodePicodet,
};

export function decoderFor(kind: string): DecoderFn {
  const fn = DECODERS[kind];
  if (!fn) throw new Error(`no decoder implemented for kind "${kind}" (available: ${Object.keys(DECODERS).join(', ')})`);
  return fn;
}
