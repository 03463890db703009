import type { Frame, PixelFormat } from '../types.js';

/** A packed 3-channel image (rows without padding). */
export interface RawImage {
  data: Buffer;
  width: number;
  height: number;
  pixelFormat: PixelFormat;
}

/** The picture part of a letterboxed frame (padding dropped), in model pixels. */
export function frameToRawImage(frame: Frame): RawImage {
  const lb = frame.letterbox;
  const rowBytes = lb.dstWidth * 3;
  if (frame.data.length < rowBytes * lb.dstHeight) {
    throw new Error(
      `frame ${frame.index} has ${frame.data.length} bytes, expected ${rowBytes * lb.dstHeight} for ${lb.dstWidth}x${lb.dstHeight}x3`,
    );
  }
  const w = lb.scaledWidth;
  const h = lb.scaledHeight;
  if (w === lb.dstWidth) {
    return { data: frame.data.subarray(0, w * h * 3), width: w, height: h, pixelFormat: frame.pixelFormat };
  }
  const data = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++) frame.data.copy(data, y * w * 3, y * rowBytes, y * rowBytes + w * 3);
  return { data, width: w, height: h, pixelFormat: frame.pixelFormat };
}
