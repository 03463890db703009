// `citywatch eval` end to end on real generated fixture clips: real ffmpeg, real YOLOX, the real
// rules engine. Two short clips (a parked pickup, and the same pickup driving through) keep it lean.
import { copyFile, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runEval, type EvalResult } from '../../bin/commands/eval.js';
import { CliError } from '../../bin/cli-error.js';
import { generateFixtures, type FixtureClip } from '../../fixtures/generate.js';
import { loadGroundTruth } from '../../pipeline/load/ground-truth-file.js';
import { sharedSession } from '../../pipeline/detect/session.js';
import { predictedEpisodes } from '../../pipeline/eval/match.js';
import { recordFrame, rerunRules, type RecordedDetections } from '../../pipeline/eval/rerun.js';
import { detectorLabels } from '../../pipeline/rules/labels.js';
import { withOverride } from '../../pipeline/eval/sweep.js';
import { replayClip } from '../../pipeline/replay.js';

const POS = 'illegal_parking_pos';
const NEG = 'illegal_parking_neg_drive_through';
// The pickup is labelled parked 8–32 s (24 s) and is confirmed after dwell; 28 s of required dwell
// is past anything that clip can give, 4–20 s is within it. 8 is the clips' own configured value.
const DWELLS = [4, 8, 12, 20, 28];

class Sink extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: string, cb: () => void): void {
    this.text += chunk.toString();
    cb();
  }
}

let clips: FixtureClip[];
let tmp: string;

beforeAll(async () => {
  clips = await generateFixtures({ only: [POS, NEG] });
  tmp = await mkdtemp(path.join(os.tmpdir(), 'citywatch-eval-'));
});

afterAll(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

async function expectRealPng(file: string, minWidth: number, minHeight: number): Promise<void> {
  const bytes = (await stat(file)).size;
  expect(bytes).toBeGreaterThan(4000);
  const img = sharp(file);
  const meta = await img.metadata();
  expect(meta.format).toBe('png');
  expect(meta.width).toBeGreaterThanOrEqual(minWidth);
  expect(meta.height).toBeGreaterThanOrEqual(minHeight);
  const { channels } = await img.stats();
  // Not a blank canvas: every channel spans dark text to white background and varies.
  for (const c of channels.slice(0, 3)) {
    expect(c.max - c.min).toBeGreaterThan(150);
    expect(c.stdev).toBeGreaterThan(5);
  }
  // Coloured bars/lines present, not just black on white: red and blue channels differ somewhere.
  const { data } = await sharp(file).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  let coloured = 0;
  for (let i = 0; i < data.length; i += 3) if (Math.abs(data[i]! - data[i + 2]!) > 60) coloured++;
  expect(coloured).toBeGreaterThan(200);
}

describe('rules re-run over recorded detections', () => {
  it('reproduces the replay exactly with the unchanged config, and differs when a threshold moves', async () => {
    const clip = clips.find((c) => c.id === POS)!;
    const gt = await loadGroundTruth(clip.truthPath);
    const session = await sharedSession(gt.cameraConfig.analysis.model);
    const recorded: RecordedDetections = { frames: [], endTime: 0, endWallTime: undefined };
    const replay = await replayClip({
      input: gt.clipPath,
      config: gt.cameraConfig,
      session,
      onFrame: (frame, res) => {
        recorded.frames.push(recordFrame(res.detections));
        recorded.endTime = frame.streamTime;
        recorded.endWallTime = frame.wallTime;
      },
    });
    expect(recorded.frames.length).toBe(replay.summary.frames);
    expect(replay.events.some((e) => e.transition === 'confirmed')).toBe(true);

    const labels = detectorLabels(session.manifest.labels, gt.cameraConfig, { ocr: true });
    expect(rerunRules(recorded, gt.cameraConfig, labels)).toEqual(replay.events);

    // Not vacuous: a dwell beyond the parked time suppresses the case on the same detections.
    const strict = rerunRules(recorded, withOverride(gt.cameraConfig, 'illegal_parking', 'minDwellSec', 60), labels);
    expect(predictedEpisodes(strict, 40)).toEqual([]);
  });
});

describe('runEval', () => {
  let result: EvalResult;
  const out = () => path.join(tmp, 'report');
  const stdout = new Sink();
  const stderr = new Sink();

  beforeAll(async () => {
    result = await runEval({
      dir: path.dirname(clips[0]!.truthPath),
      clips: [POS, NEG],
      out: out(),
      sweep: [`illegal_parking.minDwellSec=${DWELLS.join(',')}`],
      minPrecision: 0,
      stdout,
      stderr,
    });
  });

  it('writes report.md, report.json and non-trivial PNG plots', async () => {
    const md = await readFile(path.join(out(), 'report.md'), 'utf8');
    expect(md).toMatch(/\| illegal_parking \| [0-9.—]+ \| [0-9.—]+ \|/);
    expect(md).toContain('## Confusion');
    expect(md).toContain('](timeline-illegal_parking_pos.png)');
    expect(md).toContain('### illegal_parking.minDwellSec');
    const json = JSON.parse(await readFile(path.join(out(), 'report.json'), 'utf8')) as typeof result.report;
    expect(json.clips.map((c) => c.id)).toEqual([POS, NEG]);
    await expectRealPng(path.join(out(), 'pr.png'), 500, 400);
    await expectRealPng(path.join(out(), `timeline-${POS}.png`), 900, 150);
    await expectRealPng(path.join(out(), `timeline-${NEG}.png`), 900, 150);
    await expectRealPng(path.join(out(), 'sweep-illegal_parking-minDwellSec.png'), 600, 350);
  });

  it('totals agree with the per-clip counts; the summary table goes to stdout, progress to stderr', () => {
    const { metrics, clips: cs } = result.report;
    const sum = (k: 'tp' | 'fp' | 'fn' | 'duplicates') => cs.reduce((n, c) => n + c[k], 0);
    expect([metrics.total.tp, metrics.total.fp, metrics.total.fn, metrics.total.duplicates]).toEqual([
      sum('tp'),
      sum('fp'),
      sum('fn'),
      sum('duplicates'),
    ]);
    const park = metrics.classes.find((c) => c.classId === 'illegal_parking')!;
    expect(park.clips).toBe(2);
    expect(park.truths).toBe(1);
    expect(cs.every((c) => c.frames >= 70 && c.rerunMismatch === undefined)).toBe(true);
    expect(stdout.text).toMatch(/^class\s+P\s+R\s+F1\s+TP\s+FP\s+FN\s+dup/m);
    expect(stdout.text).toMatch(/^illegal_parking\s/m);
    expect(stderr.text).toContain(`clip 1/2 ${POS}`);
    expect(stderr.text).toMatch(new RegExp(`clip 2/2 ${NEG} \\d+% `));
  });

  it("records the model each clip was replayed with (the clip config's own when --model is not given)", () => {
    expect(result.report.clips.map((c) => c.model)).toEqual(['yolox_nano', 'yolox_nano']);
  });

  it('sweep: the configured value reproduces the replay; recall falls to 0 once the dwell exceeds the parked time', () => {
    const sweep = result.report.sweeps[0]!;
    expect(sweep.configured).toEqual([8]);
    expect(sweep.rows.map((r) => r.value)).toEqual(DWELLS);
    const base = result.report.metrics.classes.find((c) => c.classId === 'illegal_parking')!;
    const at8 = sweep.rows.find((r) => r.value === 8)!.metrics;
    expect([at8.tp, at8.fp, at8.fn, at8.duplicates, at8.meanTtdSec]).toEqual([base.tp, base.fp, base.fn, base.duplicates, base.meanTtdSec]);

    const recall = sweep.rows.map((r) => r.metrics.recall!);
    for (let i = 1; i < recall.length; i++) expect(recall[i]).toBeLessThanOrEqual(recall[i - 1]!);
    expect(recall[0]).toBe(1);
    expect(recall[recall.length - 1]).toBe(0);
    // A case is never confirmed before its dwell has passed (2 s labelling tolerance).
    for (const r of sweep.rows) if (r.metrics.tp > 0) expect(r.metrics.meanTtdSec!).toBeGreaterThanOrEqual(r.value - 2);
  });
});

describe('runEval --model', () => {
  it("replays every clip with the given model instead of its config's analysis.model", { timeout: 120_000 }, async () => {
    const stdout = new Sink();
    const { report } = await runEval({
      dir: path.dirname(clips[0]!.truthPath),
      clips: [POS],
      model: 'picodet_s_320_coco',
      out: path.join(tmp, 'model-report'),
      stdout,
      stderr: new Sink(),
    });
    const gt = await loadGroundTruth(clips.find((c) => c.id === POS)!.truthPath);
    expect(gt.cameraConfig.analysis.model).toBe('yolox_nano');
    expect(report.clips.map((c) => c.model)).toEqual(['picodet_s_320_coco']);
    expect(report.clips[0]!.frames).toBeGreaterThanOrEqual(70);
    expect(stdout.text).toContain('model: picodet_s_320_coco');
    expect(await readFile(path.join(tmp, 'model-report', 'report.md'), 'utf8')).toContain(`| ${POS} | picodet_s_320_coco |`);
  });

  it('refuses an unknown model with exit code 2, naming the known ones, before any replay', async () => {
    const progress = new Sink();
    const err = await runEval({
      dir: path.dirname(clips[0]!.truthPath),
      clips: [POS],
      model: 'no_such_model',
      out: path.join(tmp, 'y'),
      stdout: new Sink(),
      stderr: progress,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CliError);
    expect((err as CliError).exitCode).toBe(2);
    expect((err as CliError).message).toMatch(/--model: unknown model "no_such_model".*Known models: .*picodet_s_416_coco.*yolox_nano/);
    expect(progress.text).not.toContain('clip 1/');
    await expect(stat(path.join(tmp, 'y'))).rejects.toThrow(/ENOENT/);
  });
});

describe('runEval input errors', () => {
  it('rejects ground truth that does not match the schema, naming every bad file and the reason, before any replay', async () => {
    const dir = await mkdtemp(path.join(tmp, 'bad-'));
    const clip = clips.find((c) => c.id === POS)!;
    const good = JSON.parse(await readFile(clip.truthPath, 'utf8')) as Record<string, unknown> & {
      episodes: { start: number; end: number }[];
    };
    await copyFile(clip.clipPath, path.join(dir, `${POS}.mp4`));
    const backwards = structuredClone(good);
    backwards.episodes[0]!.end = backwards.episodes[0]!.start - 1;
    await writeFile(path.join(dir, 'a.truth.json'), JSON.stringify(backwards));
    const typo = { ...good, episode: good.episodes };
    await writeFile(path.join(dir, 'b.truth.json'), JSON.stringify(typo));
    await writeFile(path.join(dir, 'c.truth.json'), JSON.stringify({ ...good, clip: 'missing.mp4' }));

    const progress = new Sink();
    const err = await runEval({ dir, out: path.join(dir, 'out'), stdout: new Sink(), stderr: progress }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CliError);
    const msg = (err as CliError).message;
    expect((err as CliError).exitCode).toBe(2);
    expect(msg).toContain(`${path.join(dir, 'a.truth.json')}: episodes.0.end: end must be greater than start`);
    expect(msg).toMatch(new RegExp(`${path.join(dir, 'b.truth.json').replace(/[.]/g, '\\.')}: .*episode`));
    expect(msg).toContain(`${path.join(dir, 'c.truth.json')}: clip ${path.join(dir, 'missing.mp4')} does not exist`);
    // Nothing was replayed or written.
    expect(progress.text).not.toContain('clip 1/');
    await expect(stat(path.join(dir, 'out'))).rejects.toThrow(/ENOENT/);
  });

  it('rejects a malformed --sweep and an unknown clip id with exit code 2', async () => {
    const dir = path.dirname(clips[0]!.truthPath);
    await expect(runEval({ dir, clips: [POS], sweep: ['illegal_parking.minDwell=1..2'], out: path.join(tmp, 'x') })).rejects.toThrow(
      /"minDwell" cannot be swept/,
    );
    await expect(runEval({ dir, clips: ['no_such_clip'], out: path.join(tmp, 'x') })).rejects.toThrow(
      /no \.truth\.json for clip\(s\) no_such_clip/,
    );
    for (const gop of [0, -2, Number.NaN])
      await expect(runEval({ dir, clips: [POS], gop, out: path.join(tmp, 'x') })).rejects.toMatchObject({
        message: expect.stringMatching(/--gop must be > 0 seconds/),
        exitCode: 2,
      });
  });
});
