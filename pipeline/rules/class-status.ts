// A camera's config applied to the catalog: the thresholds in force per class and which classes
// can run. Apart from catalog.ts because it needs the camera-config types, and the config schema
// imports the catalog (for its class ids): together they were an import cycle.
import type { Urgency } from '../types.js';
import { CATALOG, type ClassDef, type ClassThresholds } from './catalog.js';
import type { CameraConfig, ClassOverride, Schedule } from './config-schema.js';

/** Thresholds in force for a class: catalog defaults, then the camera's overrides. */
export function effectiveThresholds(def: ClassDef, override?: ClassOverride): ClassThresholds {
  const d = def.defaults;
  const o = override ?? {};
  const minMedianScore = o.minMedianScore ?? d.minMedianScore;
  // Keep the catalog's hysteresis margin when an operator moves the enter threshold.
  const exitMedianScore = Math.max(0, Math.min(minMedianScore, minMedianScore - (d.minMedianScore - d.exitMedianScore)));
  const window = o.window ?? d.window;
  const t: ClassThresholds = {
    minScore: o.minScore ?? d.minScore,
    minMedianScore,
    exitMedianScore,
    minDwellSec: o.minDwellSec ?? d.minDwellSec,
    // minHits can never exceed the window it is counted in.
    minHits: Math.min(o.minHits ?? d.minHits, window),
    window,
    maxGapSec: o.maxGapSec ?? d.maxGapSec,
    cooldownSec: o.cooldownSec ?? d.cooldownSec,
    mergeWindowSec: o.mergeWindowSec ?? d.mergeWindowSec,
  };
  const warnAfterSec = o.warnAfterSec ?? d.warnAfterSec;
  const graceSec = o.graceSec ?? d.graceSec;
  const minCount = o.minCount ?? d.minCount;
  const clusterGap = o.clusterGap ?? d.clusterGap;
  const allowBorderCut = o.allowBorderCut ?? d.allowBorderCut;
  if (clusterGap !== undefined) t.clusterGap = clusterGap;
  if (allowBorderCut !== undefined) t.allowBorderCut = allowBorderCut;
  if (warnAfterSec !== undefined) t.warnAfterSec = warnAfterSec;
  if (graceSec !== undefined) t.graceSec = graceSec;
  if (minCount !== undefined) t.minCount = minCount;
  return t;
}

export interface ClassStatus {
  id: string;
  nameZh: string;
  nameEn: string;
  active: boolean;
  reason: string;
  urgency: Urgency;
  /** Ids of this camera's zones the class applies to. */
  zoneIds: string[];
  thresholds: ClassThresholds;
  schedule?: Schedule;
}

/**
 * Which classes can run on a camera: a class is active when it is not disabled in the camera
 * config and every label group it requires has a label some configured model produces.
 */
export function classStatus(availableLabels: ReadonlySet<string>, config: Pick<CameraConfig, 'classes' | 'zones'>): ClassStatus[] {
  return CATALOG.map((def) => {
    const override = config.classes[def.id];
    const zoneIds = config.zones.filter((z) => def.zoneTypes.includes(z.type)).map((z) => z.id);
    const missing = def.requires.filter((group) => !group.some((l) => availableLabels.has(l)));
    let active = true;
    let reason: string;
    if (override?.enabled === false) {
      active = false;
      reason = 'disabled in camera config';
    } else if (missing.length > 0) {
      active = false;
      const need = missing.map((g) => (g.length === 1 ? `"${g[0]}"` : `one of ${g.map((l) => `"${l}"`).join('/')}`));
      reason = `needs label ${need.join(' and ')} from a model not configured`;
    } else if (zoneIds.length === 0) {
      reason = `active, but no zone of type ${def.zoneTypes.join('/')} is configured on this camera`;
    } else {
      reason = `active in zone(s) ${zoneIds.join(', ')}`;
    }
    const status: ClassStatus = {
      id: def.id,
      nameZh: def.nameZh,
      nameEn: def.nameEn,
      active,
      reason,
      urgency: def.urgency,
      zoneIds,
      thresholds: effectiveThresholds(def, override),
    };
    if (override?.schedule) status.schedule = override.schedule;
    return status;
  });
}
