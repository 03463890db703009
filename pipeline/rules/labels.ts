// Which labels a camera's detectors produce, and so which violation classes can run on it. One rule
// for the analyzer (live cameras, replays, the CLI), the evaluator's rules-only re-runs and the
// API's class status; the zone types come from the catalog so none of them can drift.
import { CATALOG } from './catalog.js';
import type { CameraConfig, ZoneType } from './config-schema.js';

export const STATIC_LABEL = 'static_object';
export const TEXT_LABEL = 'text';

function zoneTypesNeeding(label: string): ReadonlySet<ZoneType> {
  return new Set(CATALOG.filter((d) => d.requires.some((g) => g.includes(label))).flatMap((d) => [...d.zoneTypes]));
}

const STATIC_ZONE_TYPES = zoneTypesNeeding(STATIC_LABEL);
/** Zone types whose classes need OCR (the text detector reads only these zones). */
export const TEXT_ZONE_TYPES = zoneTypesNeeding(TEXT_LABEL);

/** Which detectors beyond the object detector a camera config needs (from its zone types). */
export function auxiliaryDetectors(config: Pick<CameraConfig, 'zones'>): { static: boolean; text: boolean } {
  return {
    static: config.zones.some((z) => STATIC_ZONE_TYPES.has(z.type)),
    text: config.zones.some((z) => TEXT_ZONE_TYPES.has(z.type)),
  };
}

/**
 * The labels a camera's detectors produce: the object model's, static_object (the static-change
 * detector runs wherever a zone needs it; elsewhere no class asks for the label), and text when
 * OCR is available (`ocr`) and a zone needs it.
 */
export function detectorLabels(modelLabels: readonly string[], config: Pick<CameraConfig, 'zones'>, opts: { ocr: boolean }): Set<string> {
  const labels = new Set(modelLabels);
  labels.add(STATIC_LABEL);
  if (opts.ocr && auxiliaryDetectors(config).text) labels.add(TEXT_LABEL);
  return labels;
}
