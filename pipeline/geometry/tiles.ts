// Where the crops of tiled inference lie in the source picture (pure geometry). ffmpeg cuts them
// (ffmpeg-source.ts); the detector maps and merges their boxes (pipeline/detect/tiling.ts).

export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface TilingOptions {
  cols: number;
  rows: number;
  /** Fraction of a tile shared with its neighbour (0..0.5). */
  overlap: number;
}

const evenFloor = (v: number) => 2 * Math.floor(v / 2);

/**
 * Tile rectangles covering a srcWidth x srcHeight frame with `overlap` shared between neighbours;
 * even sizes and offsets so ffmpeg's crop of 4:2:0 video is exact. Row-major.
 */
export function tileRects(srcWidth: number, srcHeight: number, opts: TilingOptions): Rect[] {
  const axis = (len: number, n: number): Array<[number, number]> => {
    const full = Math.max(2, evenFloor(len));
    if (n <= 1) return [[0, full]];
    const size = Math.min(full, Math.max(2, evenFloor(Math.ceil(len / (n - (n - 1) * opts.overlap)) + 1)));
    const step = (full - size) / (n - 1);
    return Array.from({ length: n }, (_, i) => [i === n - 1 ? full - size : evenFloor(i * step), size]);
  };
  const xs = axis(srcWidth, opts.cols);
  const ys = axis(srcHeight, opts.rows);
  return ys.flatMap(([y, height]) => xs.map(([x, width]) => ({ x, y, width, height })));
}
