import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { sharedSession } from '../../pipeline/detect/session.js';
import { annotateFrame } from '../../pipeline/evidence/annotate.js';
import { getClass } from '../../pipeline/rules/catalog.js';
import { loadCameraConfigFile } from '../../pipeline/load/camera-config-file.js';
import { ConfigError } from '../../pipeline/rules/zones.js';
import { replayClip } from '../../pipeline/replay.js';
import type { Refusal } from '../../pipeline/rules/engine.js';
import type { Frame, ViolationEvent } from '../../pipeline/types.js';
import { CliError } from '../cli-error.js';

export interface AnalyzeOptions {
  /** Print refusals (rule + numbers) as they change. */
  explain?: boolean;
  config: string;
  fps?: number;
  annotate?: string;
  threads?: number;
}

/** Snapshot of a confirmed event on the analysed frame: its zone, its boxes, class and time. */
function snapshot(frame: Frame, event: ViolationEvent, zonePolygon: readonly (readonly [number, number])[] | undefined): Promise<Buffer> {
  const def = getClass(event.classId);
  return annotateFrame(frame, {
    zones: zonePolygon ? [{ polygon: zonePolygon, label: event.reason.zoneId ?? undefined }] : [],
    boxes: event.boxes.map((box) => ({ box, label: `${def.nameZh} ${def.id}` })),
    caption: `${def.nameZh} ${def.nameEn} · ${event.transition} · t=${event.streamTime.toFixed(1)}s · dwell ${event.reason.dwellSec.toFixed(0)}s`,
  });
}

/**
 * `--explain`: one `refusal` line whenever the rule refusing a (class, zone, subject) changes —
 * which rule said no, with its numbers, and the qualification record as far as the checks went
 * (the same record, `reason.qualification`, that the `event` lines carry for hits) — instead of one
 * per frame.
 */
function explainer(): (r: Refusal) => void {
  const last = new Map<string, string>();
  return (r) => {
    const key = `${r.classId}:${r.zoneId}:${r.subject}`;
    if (last.get(key) === r.rule) return;
    last.set(key, r.rule);
    process.stdout.write(`${JSON.stringify({ type: 'refusal', ...r })}\n`);
  };
}

export async function runAnalyze(input: string, opts: AnalyzeOptions): Promise<void> {
  let config;
  try {
    config = await loadCameraConfigFile(opts.config);
  } catch (err) {
    if (err instanceof ConfigError) throw new CliError(err.message, 2);
    throw err;
  }
  const session = await sharedSession(config.analysis.model, { threads: opts.threads });
  if (opts.annotate) await mkdir(opts.annotate, { recursive: true });
  const result = await replayClip({
    input,
    config,
    session,
    fps: opts.fps,
    ...(opts.explain ? { engine: { onRefusal: explainer() } } : {}),
    onEvent: (e) => process.stdout.write(`${JSON.stringify({ type: 'event', ...e })}\n`),
    onFrame: async (frame, { events }) => {
      if (!opts.annotate) return;
      for (const e of events.filter((x) => x.transition === 'confirmed')) {
        const zone = config.zones.find((z) => z.id === e.reason.zoneId);
        await writeFile(path.join(opts.annotate, `${e.id}.jpg`), await snapshot(frame, e, zone?.polygon));
      }
    },
  });
  process.stdout.write(
    `${JSON.stringify({ type: 'summary', camera: config.camera.id, ...result.summary, classes: result.classStatus.map(({ id, nameZh, nameEn, active, reason }) => ({ id, nameZh, nameEn, active, reason })) })}\n`,
  );
  const lines = result.classStatus.map(
    (c) => `  ${c.active ? 'active  ' : 'inactive'} ${c.id.padEnd(22)} ${c.nameZh}${c.active ? '' : ` — ${c.reason}`}`,
  );
  process.stderr.write(
    `classes (${result.classStatus.filter((c) => c.active).length}/${result.classStatus.length} active):\n${lines.join('\n')}\n`,
  );
  process.stderr.write(
    `frames=${result.summary.frames} seconds=${result.summary.seconds.toFixed(1)} episodes=${result.summary.episodes} confirmed=${JSON.stringify(result.summary.confirmedByClass)}\n`,
  );
}
