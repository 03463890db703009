// Optimal one-to-one assignment with a cost limit, as used by ByteTrack (lapjv with cost_limit).
// Greedy matching is cheaper but lets one strong early pair steal a detection that two
// mediocre-but-correct pairs need, which is exactly what happens when two objects cross.

export interface Assignment {
  /** [row, col] pairs with cost <= limit, sorted by row. */
  matches: Array<[number, number]>;
  unmatchedRows: number[];
  unmatchedCols: number[];
}

/**
 * Minimum-cost assignment of rows to columns where any row or column may stay unmatched.
 * Leaving a row and a column both unmatched costs `limit` (half each), so a pair is only
 * matched when its cost is below the limit and the total is minimal (Kuhn–Munkres, O((n+m)^3)).
 * Non-finite costs mark forbidden pairs (e.g. different labels).
 */
export function assign(cost: readonly (readonly number[])[], cols: number, limit: number): Assignment {
  const rows = cost.length;
  if (rows === 0 || cols === 0) {
    return { matches: [], unmatchedRows: range(rows), unmatchedCols: range(cols) };
  }
  const n = rows + cols;
  // Forbidden pairs must never beat "leave both unmatched" (cost = limit), so anything above it works.
  const forbidden = limit + 1e6;
  // A hair above half the limit so a pair costing exactly the limit is matched rather than tied.
  const half = limit / 2 + 1e-12;
  const at = (i: number, j: number): number => {
    if (i < rows && j < cols) {
      const c = cost[i]![j]!;
      return Number.isFinite(c) && c <= limit ? c : forbidden;
    }
    if (i >= rows && j >= cols) return 0;
    return half;
  };
  const rowOf = hungarian(n, at);
  const matches: Array<[number, number]> = [];
  const rowMatched = new Array<boolean>(rows).fill(false);
  const colMatched = new Array<boolean>(cols).fill(false);
  for (let j = 0; j < cols; j++) {
    const i = rowOf[j]!;
    if (i < rows && at(i, j) < forbidden) {
      matches.push([i, j]);
      rowMatched[i] = true;
      colMatched[j] = true;
    }
  }
  matches.sort((a, b) => a[0] - b[0]);
  return {
    matches,
    unmatchedRows: range(rows).filter((i) => !rowMatched[i]),
    unmatchedCols: range(cols).filter((j) => !colMatched[j]),
  };
}

/** Square Hungarian algorithm (potentials form); returns, for each column, its assigned row. */
function hungarian(n: number, at: (i: number, j: number) => number): number[] {
  const u = new Float64Array(n + 1);
  const v = new Float64Array(n + 1);
  const p = new Int32Array(n + 1); // p[j] = 1-based row matched to column j (0 = none)
  const way = new Int32Array(n + 1);
  const minv = new Float64Array(n + 1);
  const used = new Uint8Array(n + 1);
  for (let i = 1; i <= n; i++) {
    p[0] = i;
    let j0 = 0;
    minv.fill(Infinity);
    used.fill(0);
    do {
      used[j0] = 1;
      const i0 = p[j0]!;
      let delta = Infinity;
      let j1 = 0;
      for (let j = 1; j <= n; j++) {
        if (used[j]) continue;
        const cur = at(i0 - 1, j - 1) - u[i0]! - v[j]!;
        if (cur < minv[j]!) {
          minv[j] = cur;
          way[j] = j0;
        }
        if (minv[j]! < delta) {
          delta = minv[j]!;
          j1 = j;
        }
      }
      for (let j = 0; j <= n; j++) {
        if (used[j]) {
          const i = p[j]!;
          u[i] = u[i]! + delta;
          v[j] = v[j]! - delta;
        } else {
          minv[j] = minv[j]! - delta;
        }
      }
      j0 = j1;
    } while (p[j0] !== 0);
    do {
      const j1 = way[j0]!;
      p[j0] = p[j1]!;
      j0 = j1;
    } while (j0 !== 0);
  }
  const rowOf: number[] = new Array(n);
  for (let j = 1; j <= n; j++) rowOf[j - 1] = p[j]! - 1;
  return rowOf;
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}
