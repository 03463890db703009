// Glue for the common case: one source feeding one detector, sized from the model manifest.
import type { ModelManifest } from '../../models/manifest.js';
import { FrameSource, type FrameSourceOptions } from '../source/ffmpeg-source.js';
import type { TilingOptions } from '../geometry/tiles.js';

export type SourceForModelOptions = Omit<FrameSourceOptions, 'width' | 'height' | 'padValue' | 'resize' | 'pixelFormat'>;

/** A frame source whose frames already have the manifest's input size, pad value and colour order. */
export function sourceForModel(manifest: ModelManifest, opts: SourceForModelOptions): FrameSource {
  return new FrameSource({
    ...opts,
    width: manifest.input.width,
    height: manifest.input.height,
    padValue: manifest.input.letterbox?.padValue ?? 114,
    resize: manifest.input.resize,
    pixelFormat: manifest.input.colorOrder === 'bgr' ? 'bgr24' : 'rgb24',
  });
}

/** The source's tiling for a camera's analysis.tiling config (undefined when off). */
export function sourceTiling(t: { enabled: boolean; cols: number; rows: number; overlap: number } | undefined): TilingOptions | undefined {
  return t?.enabled && t.cols * t.rows > 1 ? { cols: t.cols, rows: t.rows, overlap: t.overlap } : undefined;
}
