// Glue for the common case: one source feeding one detector, sized from the model manifest.
import type { ModelManifest } from '../../models/manifest.js';
import { FrameSource, type FrameSourceOptions } from '../source/ffmpeg-source.js';

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
