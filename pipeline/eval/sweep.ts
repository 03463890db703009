// Threshold sweeps: "class.param=a..b:step" (or "class.param=a,b,c") → the camera configs to
// re-run the rules with. Only per-class rule thresholds can be swept: they act after detection,
// so one detector pass per clip serves every value.
import { cameraConfigSchema, classOverrideSchema, formatIssues, type CameraConfig } from '../rules/config-schema.js';
import { isClassId, CLASS_IDS } from '../rules/catalog.js';

export interface SweepSpec {
  /** The text as given, for messages and file names. */
  text: string;
  classId: string;
  param: SweepParam;
  values: number[];
}

/** Numeric per-class thresholds (the keys of classOverrideSchema that take a number). */
export const SWEEP_PARAMS = [
  'minScore',
  'minMedianScore',
  'minDwellSec',
  'minHits',
  'window',
  'maxGapSec',
  'cooldownSec',
  'mergeWindowSec',
  'warnAfterSec',
  'graceSec',
  'minCount',
] as const;
export type SweepParam = (typeof SWEEP_PARAMS)[number];

/** Sweeps bigger than this are almost certainly a typo in the step. */
export const MAX_SWEEP_VALUES = 200;

export class SweepSpecError extends Error {
  constructor(spec: string, reason: string) {
    super(`--sweep "${spec}": ${reason}`);
    this.name = 'SweepSpecError';
  }
}

const num = (s: string, spec: string, what: string): number => {
  const n = Number(s.trim());
  if (s.trim() === '' || !Number.isFinite(n)) throw new SweepSpecError(spec, `${what} "${s}" is not a number`);
  return n;
};

/** Values a..b inclusive in steps; float steps are rounded to 1e-9 so 0.1 steps land on 0.3, not 0.30000000000000004. */
export function rangeValues(a: number, b: number, step: number): number[] {
  if (!(step > 0)) throw new RangeError(`step must be > 0, got ${step}`);
  if (b < a) throw new RangeError(`range end ${b} is below its start ${a}`);
  const n = Math.floor((b - a) / step + 1e-9);
  if (n + 1 > MAX_SWEEP_VALUES) throw new RangeError(`${n + 1} values (max ${MAX_SWEEP_VALUES}); use a larger step`);
  return Array.from({ length: n + 1 }, (_, i) => Math.round((a + i * step) * 1e9) / 1e9);
}

export function parseSweepSpec(text: string): SweepSpec {
  const m = /^\s*([a-z_]+)\.([A-Za-z]+)\s*=\s*(.+?)\s*$/.exec(text);
  if (!m)
    throw new SweepSpecError(text, 'expected class.param=a..b:step (e.g. illegal_parking.minDwellSec=4..20:4) or class.param=v1,v2,…');
  const [, classId, param, rhs] = m as unknown as [string, string, string, string];
  if (!isClassId(classId)) throw new SweepSpecError(text, `unknown class "${classId}" (known: ${CLASS_IDS.join(', ')})`);
  if (!(SWEEP_PARAMS as readonly string[]).includes(param))
    throw new SweepSpecError(text, `"${param}" cannot be swept (one of: ${SWEEP_PARAMS.join(', ')})`);
  let values: number[];
  const range = /^(.+?)\.\.(.+?)(?::(.+))?$/.exec(rhs);
  if (range) {
    const a = num(range[1]!, text, 'range start');
    const b = num(range[2]!, text, 'range end');
    const step = range[3] !== undefined ? num(range[3], text, 'step') : 1;
    try {
      values = rangeValues(a, b, step);
    } catch (err) {
      throw new SweepSpecError(text, (err as Error).message);
    }
  } else {
    values = rhs.split(',').map((s) => num(s, text, 'value'));
    if (new Set(values).size !== values.length) throw new SweepSpecError(text, 'values repeat');
    values.sort((x, y) => x - y);
  }
  // Validate every value against the schema now, not after an hour of replays.
  for (const v of values) {
    const r = classOverrideSchema.safeParse({ [param]: v });
    if (!r.success) throw new SweepSpecError(text, `value ${v}: ${formatIssues(r.error)}`);
  }
  return { text, classId, param: param as SweepParam, values };
}

/** The camera config with one class threshold replaced (validated like any operator edit). */
export function withOverride(config: CameraConfig, classId: string, param: SweepParam, value: number): CameraConfig {
  const classes = { ...config.classes, [classId]: { ...config.classes[classId], [param]: value } };
  const r = cameraConfigSchema.safeParse({ ...config, classes });
  if (!r.success) throw new Error(`camera ${config.camera.id}: ${classId}.${param}=${value}: ${formatIssues(r.error)}`);
  return r.data;
}

/** File-name-safe slug of a sweep, e.g. "illegal_parking-minDwellSec". */
export function sweepSlug(s: Pick<SweepSpec, 'classId' | 'param'>): string {
  return `${s.classId}-${s.param}`;
}
