// `citywatch eval`: replays labelled clips through the same path as `analyze`, scores the
// confirmed episodes against ground truth per class, and writes a report with plots. Threshold
// sweeps re-run only the rules engine over detections recorded once per clip.
import { access, mkdir, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { sharedSession } from '../../pipeline/detect/session.js';
import {
  matchClip,
  predictedEpisodes,
  DEFAULT_TOLERANCE_SEC,
  type ClipMatch,
  type PredictedEpisode,
  type TruthEpisode,
} from '../../pipeline/eval/match.js';
import { computeMetrics, gateFailures, type ClassMetrics } from '../../pipeline/eval/metrics.js';
import { prBarsSvg, svgToPng, sweepSvg, timelineSvg, type TimelineRow } from '../../pipeline/report/plots.js';
import { recordFrame, rerunRules, type RecordedDetections } from '../../pipeline/eval/rerun.js';
import { detectorLabels } from '../../pipeline/rules/labels.js';
import { renderMarkdown, summaryText, type ClipSummary, type EvalReport, type SweepReport } from '../../pipeline/report/report.js';
import { parseSweepSpec, SweepSpecError, sweepSlug, withOverride, type SweepSpec } from '../../pipeline/eval/sweep.js';
import { replayClip } from '../../pipeline/replay.js';
import type { ViolationEvent } from '../../pipeline/types.js';
import { GroundTruthError, loadGroundTruth, type LoadedGroundTruth } from '../../pipeline/load/ground-truth-file.js';
import { defaultFixturesDir } from '../../fixtures/sources.js';
import { loadManifest } from '../../models/manifest.js';
import { CliError } from '../cli-error.js';
import { isLiveInput } from '../../pipeline/source/input-url.js';
import { reencodeWithGop } from '../../pipeline/source/gop-reencode.js';
import { REPO_ROOT } from '../../fixtures/sources.js';

export interface EvalOptions {
  /** Folder of <id>.truth.json (+ clips); default .cache/fixtures, generated when missing. */
  dir?: string;
  /** Clip ids (truth file names without .truth.json); default all in dir. */
  clips?: string[];
  /** Resolve relative `clip` paths against this folder instead of each truth file's folder. */
  clipDir?: string;
  /** Report folder (default .cache/eval-report). */
  out?: string;
  /** "class.param=a..b:step" or "class.param=v1,v2" specs. */
  sweep?: string[];
  fps?: number;
  threads?: number;
  /** Default matching tolerance in seconds (truth files may override). */
  tolerance?: number;
  /** Print the JSON report on stdout instead of the table. */
  json?: boolean;
  /** Decode keyframes only on every clip (overrides each config's analysis.keyframesOnly). */
  keyframesOnly?: boolean;
  /**
   * Live-camera rate: re-encode every clip with a keyframe each `gop` seconds (libx264, no
   * B-frames, cached under .cache/gop) and decode keyframes only, at 1/gop fps unless --fps says
   * otherwise — what a live camera with that GOP delivers on the keyframes path.
   */
  gop?: number;
  /** Re-encode cache for --gop (default .cache/gop). */
  gopCacheDir?: string;
  /** Detector model for every clip (overrides each config's analysis.model), to compare models on one suite. */
  model?: string;
  /** Heading printed above the table, so several suites in one log stay apart. */
  title?: string;
  /** CI gates: exit 1 when a class with a defined score is below. */
  minPrecision?: number;
  minRecall?: number;
  stdout?: NodeJS.WritableStream;
  stderr?: NodeJS.WritableStream & { isTTY?: boolean };
}

export interface EvalResult {
  report: EvalReport;
  outDir: string;
}

const TRUTH_SUFFIX = '.truth.json';

const exists = (p: string) =>
  access(p).then(
    () => true,
    () => false,
  );

/** Progress on stderr: one redrawn bar on a terminal, a line every 25 % otherwise. */
class Progress {
  private lastBucket = -1;
  constructor(
    private readonly stream: NodeJS.WritableStream & { isTTY?: boolean },
    private readonly total: number,
  ) {}
  update(i: number, id: string, seconds: number, duration: number | null): void {
    const frac = duration && duration > 0 ? Math.min(1, seconds / duration) : 0;
    const pct = Math.round(frac * 100);
    const msg = `clip ${i + 1}/${this.total} ${id} ${pct}% (${seconds.toFixed(1)}/${duration?.toFixed(1) ?? '?'} s)`;
    if (this.stream.isTTY) {
      const n = Math.round(frac * 24);
      this.stream.write(`\r[${'#'.repeat(n)}${'-'.repeat(24 - n)}] ${msg}\x1b[K`);
      return;
    }
    const bucket = i * 4 + Math.floor(frac * 4);
    if (bucket === this.lastBucket) return;
    this.lastBucket = bucket;
    this.stream.write(`${msg}\n`);
  }
  line(msg: string): void {
    this.stream.write(this.stream.isTTY ? `\r${msg}\x1b[K\n` : `${msg}\n`);
  }
}

async function findTruthFiles(dir: string): Promise<string[]> {
  const names = await readdir(dir).catch((err: Error) => {
    throw new CliError(`cannot read evaluation folder ${dir}: ${err.message}`, 2);
  });
  return names
    .filter((n) => n.endsWith(TRUTH_SUFFIX))
    .sort()
    .map((n) => path.join(dir, n));
}

/** Fixture clips to (re)build in the default folder: the asked ones that are missing, or all when the folder has none. */
async function ensureFixtures(dir: string, clips: string[] | undefined, progress: Progress): Promise<void> {
  const present = new Set(
    (await readdir(dir).catch(() => [] as string[])).filter((n) => n.endsWith(TRUTH_SUFFIX)).map((n) => n.slice(0, -TRUTH_SUFFIX.length)),
  );
  let only: string[] | undefined;
  if (clips?.length) {
    only = [];
    for (const id of clips) if (!present.has(id) || !(await exists(path.join(dir, `${id}.mp4`)))) only.push(id);
    if (!only.length) return;
  } else if (present.size > 0) return;
  const { generateFixtures } = await import('../../fixtures/generate.js');
  progress.line(`generating fixture clips${only ? ` ${only.join(', ')}` : ''} into ${dir} …`);
  try {
    await generateFixtures({ outDir: dir, only, log: (l) => progress.line(l) });
  } catch (err) {
    throw new CliError(`generating fixtures failed: ${(err as Error).message}`, 2);
  }
}

function truthEpisodes(gt: LoadedGroundTruth): TruthEpisode[] {
  return gt.episodes.map((e) => {
    const t: TruthEpisode = { classId: e.classId, zoneId: e.zoneId, start: e.start, end: e.end };
    if (e.note) t.note = e.note;
    if (gt.tolerance) {
      t.toleranceBeforeSec = gt.tolerance.earlyStartSec;
      t.toleranceAfterSec = gt.tolerance.endSec;
      t.lateStartSec = gt.tolerance.lateStartSec;
    }
    return t;
  });
}

function matchEvents(
  events: readonly ViolationEvent[],
  gt: LoadedGroundTruth,
  clipEnd: number,
  tol: number,
): { preds: PredictedEpisode[]; match: ClipMatch } {
  const preds = predictedEpisodes(events, clipEnd);
  return { preds, match: matchClip(preds, truthEpisodes(gt), gt.negatives, { toleranceSec: tol }) };
}

function timelineRows(gt: LoadedGroundTruth, preds: readonly PredictedEpisode[], match: ClipMatch): TimelineRow[] {
  const kind = new Map<string, 'tp' | 'fp' | 'dup' | 'ignored'>();
  for (const m of match.matches) kind.set(m.prediction.episodeId, 'tp');
  for (const d of match.duplicates) kind.set(d.prediction.episodeId, 'dup');
  for (const p of match.falsePositives) kind.set(p.episodeId, 'fp');
  for (const p of match.ignored) kind.set(p.episodeId, 'ignored');
  const classes = [...new Set([...match.scoredClasses, ...preds.map((p) => p.classId)])].sort();
  return classes.map((classId) => ({
    classId,
    truths: gt.episodes.filter((e) => e.classId === classId).map((e) => ({ start: e.start, end: e.end, label: e.zoneId })),
    predictions: preds
      .filter((p) => p.classId === classId)
      .map((p) => ({ start: p.start, end: p.end, confirmedAt: p.confirmedAt, kind: kind.get(p.episodeId) ?? 'fp' })),
  }));
}

/** First difference between two event lists, for the rerun self-check. */
function firstDifference(a: readonly ViolationEvent[], b: readonly ViolationEvent[]): string | null {
  if (a.length !== b.length) return `${a.length} replay events vs ${b.length} re-run events`;
  for (let i = 0; i < a.length; i++) {
    if (JSON.stringify(a[i]) !== JSON.stringify(b[i])) return `event ${i} (${a[i]!.id} vs ${b[i]!.id}) differs`;
  }
  return null;
}

/**
 * Runs the evaluation and writes report.md, report.json and the PNGs into `out`. Throws CliError
 * with exit code 2 for bad input (truth files, sweep specs, folders), 1 for replay failures and —
 * after everything is written — when a class is below minPrecision/minRecall.
 */
export async function runEval(opts: EvalOptions = {}): Promise<EvalResult> {
  const t0 = performance.now();
  const stdout = opts.stdout ?? process.stdout;
  const stderr = opts.stderr ?? process.stderr;
  const tol = opts.tolerance ?? DEFAULT_TOLERANCE_SEC;
  if (!(tol >= 0)) throw new CliError(`--tolerance must be ≥ 0, got ${tol}`, 2);
  if (opts.gop !== undefined && !(opts.gop > 0 && Number.isFinite(opts.gop)))
    throw new CliError(`--gop must be > 0 seconds, got ${opts.gop}`, 2);
  const fps = opts.fps ?? (opts.gop !== undefined ? 1 / opts.gop : undefined);
  let sweeps: SweepSpec[];
  try {
    sweeps = (opts.sweep ?? []).map(parseSweepSpec);
  } catch (err) {
    if (err instanceof SweepSpecError) throw new CliError(err.message, 2);
    throw err;
  }
  // An unknown --model is bad input: refuse it before any replay, naming the known models.
  if (opts.model !== undefined)
    await loadManifest(opts.model).catch((err: Error) => {
      throw new CliError(`--model: ${err.message}`, 2);
    });
  const dir = path.resolve(opts.dir ?? defaultFixturesDir());
  const outDir = path.resolve(opts.out ?? path.join(process.cwd(), '.cache', 'eval-report'));
  const progress0 = new Progress(stderr, 1);
  if (opts.dir === undefined) await ensureFixtures(dir, opts.clips, progress0);
  else if (!(await exists(dir))) throw new CliError(`evaluation folder ${dir} does not exist`, 2);

  let files = await findTruthFiles(dir);
  if (opts.clips?.length) {
    const byId = new Map(files.map((f) => [path.basename(f, TRUTH_SUFFIX), f]));
    const unknown = opts.clips.filter((id) => !byId.has(id));
    if (unknown.length)
      throw new CliError(
        `no ${TRUTH_SUFFIX} for clip(s) ${unknown.join(', ')} in ${dir} (has: ${[...byId.keys()].join(', ') || 'none'})`,
        2,
      );
    files = opts.clips.map((id) => byId.get(id)!);
  }
  if (!files.length) throw new CliError(`no *${TRUTH_SUFFIX} files in ${dir}`, 2);

  // Validate every truth file before spending minutes on replays; report all bad ones at once.
  const truths: LoadedGroundTruth[] = [];
  const problems: string[] = [];
  for (const f of files) {
    try {
      const gt = await loadGroundTruth(f, opts.clipDir ? { clipDir: path.resolve(opts.clipDir) } : {});
      if (!isLiveInput(gt.clip) && !(await exists(gt.clipPath))) throw new GroundTruthError(gt.file, `clip ${gt.clipPath} does not exist`);
      truths.push(gt);
    } catch (err) {
      if (err instanceof GroundTruthError) problems.push(err.message);
      else throw err;
    }
  }
  if (problems.length) throw new CliError(`invalid ground truth:\n  ${problems.join('\n  ')}`, 2);
  for (const s of sweeps) {
    if (!truths.some((gt) => gt.episodes.some((e) => e.classId === s.classId) || gt.negatives.some((n) => n.classId === s.classId))) {
      throw new CliError(`--sweep ${s.text}: no selected clip scores class ${s.classId}`, 2);
    }
  }

  await mkdir(outDir, { recursive: true });
  const progress = new Progress(stderr, truths.length);
  const written: string[] = [];
  const write = async (name: string, data: string | Buffer) => {
    const file = path.join(outDir, name);
    await writeFile(file, data);
    written.push(file);
  };

  const clipSummaries: ClipSummary[] = [];
  const matches: ClipMatch[] = [];
  const sweepMatches = sweeps.map((s) => s.values.map(() => [] as ClipMatch[]));
  const configured = sweeps.map(() => new Set<number>());

  for (const [i, gt] of truths.entries()) {
    const id = path.basename(gt.file, TRUTH_SUFFIX);
    const analysis = { ...gt.cameraConfig.analysis };
    if (opts.keyframesOnly || opts.gop !== undefined) analysis.keyframesOnly = true;
    if (fps !== undefined) analysis.fps = fps;
    if (opts.model !== undefined) analysis.model = opts.model;
    const config = { ...gt.cameraConfig, analysis };
    const session = await sharedSession(config.analysis.model, { threads: opts.threads });
    const recorded: RecordedDetections | null = sweeps.length ? { frames: [], endTime: 0, endWallTime: undefined } : null;
    let input = gt.clipPath;
    if (opts.gop !== undefined) {
      if (isLiveInput(input)) throw new CliError(`${id}: --gop re-encodes files; ${input} is a live input`, 2);
      progress.line(`clip ${i + 1}/${truths.length} ${id}: re-encoding with a ${opts.gop} s GOP (cached) …`);
      input = await reencodeWithGop(input, { gopSec: opts.gop, cacheDir: opts.gopCacheDir ?? path.join(REPO_ROOT, '.cache', 'gop') }).catch(
        (err: Error) => {
          throw new CliError(`${id}: ${err.message}`, 1);
        },
      );
    }
    const r0 = performance.now();
    let result;
    try {
      result = await replayClip({
        input,
        config,
        session,
        fps,
        onFrame: recorded
          ? (frame, res) => {
              recorded.frames.push(recordFrame(res.detections));
              recorded.endTime = frame.streamTime;
              recorded.endWallTime = frame.wallTime;
            }
          : undefined,
        onProgress: (s, d) => progress.update(i, id, s, d ?? gt.durationSec ?? null),
      });
    } catch (err) {
      throw new CliError(`${id}: replay of ${gt.clipPath} failed: ${(err as Error).message}`, 1);
    }
    const replaySec = (performance.now() - r0) / 1000;
    const clipEnd = gt.durationSec ?? result.summary.seconds;
    const { preds, match } = matchEvents(result.events, gt, clipEnd, tol);
    matches.push(match);

    let rerunMismatch: string | undefined;
    if (recorded) {
      const labels = detectorLabels(session.manifest.labels, config, { ocr: true });
      rerunMismatch = firstDifference(result.events, rerunRules(recorded, config, labels)) ?? undefined;
      if (rerunMismatch) progress.line(`warning: ${id}: rules re-run over recorded detections diverged from the replay (${rerunMismatch})`);
      sweeps.forEach((s, si) => {
        const cur = config.classes[s.classId]?.[s.param];
        if (typeof cur === 'number') configured[si]!.add(cur);
        s.values.forEach((v, vi) => {
          const cfg = withOverride(config, s.classId, s.param, v);
          sweepMatches[si]![vi]!.push(matchEvents(rerunRules(recorded, cfg, labels), gt, clipEnd, tol).match);
        });
      });
    }

    const timelineName = `timeline-${id}.png`;
    await write(timelineName, await svgToPng(timelineSvg(id, clipEnd, timelineRows(gt, preds, match))));
    clipSummaries.push({
      id,
      truthFile: gt.file,
      clipPath: gt.clipPath,
      durationSec: clipEnd,
      model: config.analysis.model,
      frames: result.summary.frames,
      replaySec,
      scoredClasses: match.scoredClasses,
      tp: match.matches.length,
      fp: match.falsePositives.length,
      fn: match.falseNegatives.length,
      duplicates: match.duplicates.length,
      ignored: match.ignored.length,
      timeline: timelineName,
      ...(rerunMismatch ? { rerunMismatch } : {}),
    });
    progress.line(
      `clip ${i + 1}/${truths.length} ${id}: TP ${match.matches.length} FP ${match.falsePositives.length} FN ${match.falseNegatives.length} dup ${match.duplicates.length} (${replaySec.toFixed(1)} s)`,
    );
  }

  const metrics = computeMetrics(matches);
  await write('pr.png', await svgToPng(prBarsSvg(metrics.classes)));

  const sweepReports: SweepReport[] = [];
  for (const [si, s] of sweeps.entries()) {
    const empty = (classId: string): ClassMetrics => ({
      classId,
      truths: 0,
      predictions: 0,
      tp: 0,
      fp: 0,
      fn: 0,
      duplicates: 0,
      precision: null,
      recall: null,
      f1: null,
      meanTtdSec: null,
      medianTtdSec: null,
      late: 0,
      clips: 0,
    });
    const rows = s.values.map((value, vi) => ({
      value,
      metrics: computeMetrics(sweepMatches[si]![vi]!).classes.find((c) => c.classId === s.classId) ?? empty(s.classId),
    }));
    const plot = `sweep-${sweepSlug(s)}.png`;
    await write(
      plot,
      await svgToPng(
        sweepSvg(
          `${s.classId}: P / R / F1 vs ${s.param}`,
          s.param,
          rows.map((r) => ({ value: r.value, precision: r.metrics.precision, recall: r.metrics.recall, f1: r.metrics.f1 })),
        ),
      ),
    );
    sweepReports.push({
      spec: s.text,
      classId: s.classId,
      param: s.param,
      configured: [...configured[si]!].sort((a, b) => a - b),
      rows,
      plot,
    });
  }

  const report: EvalReport = {
    generatedAt: new Date().toISOString(),
    fixturesDir: dir,
    toleranceSec: tol,
    clips: clipSummaries,
    metrics,
    sweeps: sweepReports,
    runtimeSec: (performance.now() - t0) / 1000,
    files: written,
  };
  await write('report.md', renderMarkdown(report));
  report.files = [...written, path.join(outDir, 'report.json')];
  await writeFile(path.join(outDir, 'report.json'), JSON.stringify(report, null, 2) + '\n');

  if (opts.json) stdout.write(`${JSON.stringify(report)}\n`);
  else {
    if (opts.title) stdout.write(`\n== ${opts.title} ==\n`);
    if (opts.model !== undefined) stdout.write(`model: ${opts.model} (--model, every clip)\n`);
    stdout.write(`${summaryText(metrics)}\n`);
    for (const s of sweepReports) {
      stdout.write(`\nsweep ${s.classId}.${s.param}:\n`);
      stdout.write(
        `${s.rows.map((r) => `  ${String(r.value).padStart(8)}  P ${r.metrics.precision?.toFixed(2) ?? '—'}  R ${r.metrics.recall?.toFixed(2) ?? '—'}  F1 ${r.metrics.f1?.toFixed(2) ?? '—'}  TP ${r.metrics.tp} FP ${r.metrics.fp} FN ${r.metrics.fn} dup ${r.metrics.duplicates}`).join('\n')}\n`,
      );
    }
    stdout.write(`\nreport: ${path.join(outDir, 'report.md')} (${report.runtimeSec.toFixed(1)} s)\n`);
  }

  const failures = gateFailures(metrics.classes, { minPrecision: opts.minPrecision, minRecall: opts.minRecall });
  if (failures.length) throw new CliError(`below the required scores:\n  ${failures.join('\n  ')}`, 1);
  return { report, outDir };
}
