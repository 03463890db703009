// Boxes come from the analysed stream; evidence is cut from the recorded one. With stream roles
// (a substream for analysis, the main stream recorded) the two differ in size, so boxes are mapped
// by the ratio of the sizes before they are drawn. Both streams show the same field of view.
import type { Box } from '../types.js';

export interface PixelSize {
  width: number;
  height: number;
}

/** Boxes in `from` pixels → `to` pixels (identity when the sizes match or `from` is unknown). */
export function scaleBoxes(boxes: readonly Box[], from: PixelSize | null | undefined, to: PixelSize): Box[] {
  if (!from || !(from.width > 0 && from.height > 0) || (from.width === to.width && from.height === to.height))
    return boxes.map((b) => ({ ...b }));
  const sx = to.width / from.width;
  const sy = to.height / from.height;
  return boxes.map((b) => ({ x1: b.x1 * sx, y1: b.y1 * sy, x2: b.x2 * sx, y2: b.y2 * sy }));
}
