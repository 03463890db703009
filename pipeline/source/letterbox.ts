import type { Letterbox } from '../types.js';

/** Top-left anchored letterbox of a source into dst, matching what the ffmpeg filter graph produces. */
export function computeLetterbox(srcWidth: number, srcHeight: number, dstWidth: number, dstHeight: number): Letterbox {
  if (!(srcWidth > 0 && srcHeight > 0)) throw new Error(`invalid source size ${srcWidth}x${srcHeight}`);
  const scale = Math.min(dstWidth / srcWidth, dstHeight / srcHeight);
  return {
    scale,
    srcWidth,
    srcHeight,
    scaledWidth: Math.max(1, Math.min(dstWidth, Math.round(srcWidth * scale))),
    scaledHeight: Math.max(1, Math.min(dstHeight, Math.round(srcHeight * scale))),
    dstWidth,
    dstHeight,
  };
}

/** The ffmpeg filter chain fragment that produces `lb` (scale, then pad right/bottom). */
export function letterboxFilter(lb: Letterbox, padValue: number): string {
  const hex = padValue.toString(16).padStart(2, '0');
  return `scale=${lb.scaledWidth}:${lb.scaledHeight}:flags=bilinear,setsar=1,pad=${lb.dstWidth}:${lb.dstHeight}:0:0:color=0x${hex}${hex}${hex}`;
}
