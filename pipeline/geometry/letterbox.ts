import type { Letterbox } from '../types.js';

/**
 * Geometry of a source picture inside the model input, matching what the ffmpeg filter graph
 * produces: 'letterbox' keeps the aspect ratio, anchored top-left, padded right/bottom;
 * 'stretch' fills dst with independent x and y scales.
 */
export function computeLetterbox(
  srcWidth: number,
  srcHeight: number,
  dstWidth: number,
  dstHeight: number,
  mode: 'letterbox' | 'stretch' = 'letterbox',
): Letterbox {
  if (!(srcWidth > 0 && srcHeight > 0)) throw new Error(`invalid source size ${srcWidth}x${srcHeight}`);
  if (mode === 'stretch') {
    const scaleX = dstWidth / srcWidth;
    const scaleY = dstHeight / srcHeight;
    return {
      scale: Math.min(scaleX, scaleY),
      scaleX,
      scaleY,
      mode,
      srcWidth,
      srcHeight,
      scaledWidth: dstWidth,
      scaledHeight: dstHeight,
      dstWidth,
      dstHeight,
    };
  }
  const scale = Math.min(dstWidth / srcWidth, dstHeight / srcHeight);
  return {
    scale,
    scaleX: scale,
    scaleY: scale,
    mode,
    srcWidth,
    srcHeight,
    scaledWidth: Math.max(1, Math.min(dstWidth, Math.round(srcWidth * scale))),
    scaledHeight: Math.max(1, Math.min(dstHeight, Math.round(srcHeight * scale))),
    dstWidth,
    dstHeight,
  };
}

/** The ffmpeg filter chain fragment that produces `lb` (scale, then pad right/bottom unless stretched). */
export function letterboxFilter(lb: Letterbox, padValue: number): string {
  if (lb.mode === 'stretch') return `scale=${lb.dstWidth}:${lb.dstHeight}:flags=bilinear,setsar=1`;
  const hex = padValue.toString(16).padStart(2, '0');
  return `scale=${lb.scaledWidth}:${lb.scaledHeight}:flags=bilinear,setsar=1,pad=${lb.dstWidth}:${lb.dstHeight}:0:0:color=0x${hex}${hex}${hex}`;
}

/** Model px per source px on each axis (the one place that knows a letterbox may be stretched). */
export function axisScales(lb: Letterbox): { sx: number; sy: number } {
  return { sx: lb.scaleX ?? lb.scale, sy: lb.scaleY ?? lb.scale };
}
