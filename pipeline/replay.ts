// Analyse a whole clip (or a bounded stretch of a stream) with one camera config. The CLI's
// `analyze`, API replays and the evaluator all call this, so they cannot disagree.
import { CameraAnalyzer, sourceRegions, type AnalysisResult } from './analyzer.js';
import type { InputSpec } from './source/input-url.js';
import type { ClassStatus } from './rules/class-status.js';
import type { CameraConfig } from './rules/config-schema.js';
import type { ModelSession } from './detect/session.js';
import { sourceForModel, sourceTiling } from './detect/stream.js';
import type { TextDetector } from './detect/text/index.js';
import type { Frame, ViolationEvent } from './types.js';
import type { RulesEngineOptions } from './rules/engine.js';

export interface ReplayOptions {
  input: string;
  config: CameraConfig;
  session: ModelSession;
  /** Overrides config.analysis.fps. */
  fps?: number;
  allowFiles?: boolean;
  /** The input as checked by the address policy (pinned); default parseInput(input). */
  spec?: InputSpec;
  textDetector?: TextDetector | null;
  /** Rules-engine options (e.g. onRefusal for `analyze --explain`). */
  engine?: Omit<RulesEngineOptions, 'availableLabels'>;
  /** Stop after this many seconds of stream time (live inputs). */
  maxSeconds?: number;
  signal?: AbortSignal;
  onFrame?: (frame: Frame, result: AnalysisResult) => void | Promise<void>;
  onEvent?: (event: ViolationEvent) => void;
  /** Stream seconds analysed so far and the clip duration (null when unknown). */
  onProgress?: (seconds: number, duration: number | null) => void;
}

export interface ReplaySummary {
  frames: number;
  seconds: number;
  episodes: number;
  /** Confirmed episodes per class: the cases this clip would have opened. */
  confirmedByClass: Record<string, number>;
  eventsByTransition: Record<string, number>;
}

export interface ReplayResult {
  events: ViolationEvent[];
  classStatus: ClassStatus[];
  summary: ReplaySummary;
}

export function summarise(events: readonly ViolationEvent[], frames: number, seconds: number): ReplaySummary {
  const confirmed = new Map<string, Set<string>>();
  const byTransition: Record<string, number> = {};
  const episodes = new Set<string>();
  for (const e of events) {
    episodes.add(e.episodeId);
    byTransition[e.transition] = (byTransition[e.transition] ?? 0) + 1;
    if (e.transition === 'confirmed') {
      if (!confirmed.has(e.classId)) confirmed.set(e.classId, new Set());
      confirmed.get(e.classId)!.add(e.episodeId);
    }
  }
  return {
    frames,
    seconds,
    episodes: episodes.size,
    confirmedByClass: Object.fromEntries([...confirmed].map(([k, v]) => [k, v.size])),
    eventsByTransition: byTransition,
  };
}

export async function replayClip(opts: ReplayOptions): Promise<ReplayResult> {
  const { config, session } = opts;
  const analyzer = await CameraAnalyzer.create(config, {
    session,
    textDetector: opts.textDetector,
    ...(opts.engine ? { engine: opts.engine } : {}),
  });
  const source = sourceForModel(session.manifest, {
    input: opts.input,
    ...(opts.spec ? { spec: opts.spec } : {}),
    fps: opts.fps ?? config.analysis.fps,
    keyframesOnly: config.analysis.keyframesOnly,
    tiling: sourceTiling(config.analysis.tiling),
    ...sourceRegions(config),
    allowFiles: opts.allowFiles ?? true,
    // A replay must see every frame, whatever the input kind.
    overflow: 'block',
    maxReconnects: 0,
  });
  const events: ViolationEvent[] = [];
  const emit = (evs: ViolationEvent[]) => {
    for (const e of evs) {
      events.push(e);
      opts.onEvent?.(e);
    }
  };
  let frames = 0;
  let last: Frame | null = null;
  const abort = () => void source.stop();
  opts.signal?.addEventListener('abort', abort, { once: true });
  try {
    for await (const frame of source.frames()) {
      if (opts.signal?.aborted) break;
      const result = await analyzer.process(frame);
      frames++;
      last = frame;
      emit(result.events);
      await opts.onFrame?.(frame, result);
      opts.onProgress?.(frame.streamTime, source.probe?.duration ?? null);
      if (opts.maxSeconds !== undefined && frame.streamTime >= opts.maxSeconds) break;
    }
  } finally {
    opts.signal?.removeEventListener('abort', abort);
    await source.stop();
  }
  if (opts.signal?.aborted) throw new Error('replay aborted');
  const end = last ? last.streamTime : 0;
  emit(analyzer.flush(end, last?.wallTime));
  return { events, classStatus: analyzer.classStatus(), summary: summarise(events, frames, end) };
}
