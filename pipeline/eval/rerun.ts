// Re-running only the rules over detections recorded once. Detection (YOLOX, static-change, OCR)
// is the expensive part and does not depend on rule thresholds, so a threshold sweep records
// every frame's full FrameDetections during one replay and replays the rules engine per value.
import type { CameraConfig } from '../rules/config-schema.js';
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
