// Re-running only the rules over detections recorded once. Detection (YOLOX, static-change, OCR)
// is the expensive part and does not depend on rule thresholds, so a threshold sweep records
// every frame's full FrameDetections during one replay and replays the rules engine per value.
import { CATALOG } from '../rules/catalog.js';
import type { CameraConfig, ZoneType } from '../rules/config-schema.js';
import { RulesEngine, type RulesEngineOptions } from '../rules/engine.js';
import { TrackingStage } from '../track/tracking-stage.js';
import type { FrameDetections, ViolationEvent } from '../types.js';

/** What one replay leaves behind for re-running the rules. */
export interface RecordedDetections {
  frames: FrameDetections[];
  /** Stream time and wall time replayClip flushed the engine at (its last frame). */
  endTime: number;
  endWallTime: number | undefined;
}

const zoneTypesNeeding = (label: string): Set<ZoneType> =>
  new Set(CATALOG.filter((d) => d.requires.some((g) => g.includes(label))).flatMap((d) => [...d.zoneTypes]));

/**
 * The labels CameraAnalyzer makes available for a config when replayClip builds it with its
 * defaults: the model's labels, static_object always, text when a zone needs OCR (the analyzer
 * then creates a text detector). Must match CameraAnalyzer.availableLabels(); the eval tests
 * check that a re-run reproduces the replay's events exactly.
 */
export function replayAvailableLabels(modelLabels: readonly string[], config: CameraConfig): Set<string> {
  const labels = new Set(modelLabels);
  labels.add('static_object');
  const text = zoneTypesNeeding('text');
  if (config.zones.some((z) => text.has(z.type))) labels.add('text');
  return labels;
}

/** Deep copy, so nothing downstream of the recording (tracker, engine) can alter what is replayed later. */
export function recordFrame(d: FrameDetections): FrameDetections {
  return structuredClone(d);
}

export function rerunRules(
  recorded: RecordedDetections,
  config: CameraConfig,
  availableLabels: ReadonlySet<string>,
  engineOpts: Omit<RulesEngineOptions, 'availableLabels'> = {},
): ViolationEvent[] {
  // The same track → rules composition as CameraAnalyzer.process, minus the detectors.
  const engine = new RulesEngine(config, { ...engineOpts, availableLabels });
  const tracking = TrackingStage.forCamera(config.analysis);
  const events: ViolationEvent[] = [];
  for (const f of recorded.frames) events.push(...engine.process(f, tracking.update(f, engine.trackingScope(f))));
  events.push(...engine.flush(recorded.endTime, recorded.endWallTime));
  return events;
}
