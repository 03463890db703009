// Small statistics shared by the tracker, the debouncer, the evaluator and the probe.

/** Median of the values (mean of the middle two for an even count); null when there are none. */
export function median(xs: readonly number[]): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}
