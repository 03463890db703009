// Evidence clips from the recording ring: whole segments covering [start − preRoll, end + postRoll],
// joined with ffmpeg's concat demuxer and stream copy (no re-encode), written as faststart MP4.
// Segments begin on keyframes by construction, so choosing whole segments keeps the clip decodable
// from its first frame; the clip may therefore start up to one segment early and end up to one late.
import { spawn } from 'node:child_process';
import { copyFile, link, mkdtemp, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { inputGuardArgs, parseInput } from '../source/input-url.js';
import { probeInput } from '../source/probe.js';
import type { ClipClock, SegmentRecord } from '../source/recorder.js';

export interface ClipWindowRequest {
  /** Event start and end on `clock` (seconds for 'stream', epoch ms for 'wall'). */
  start: number;
  end: number;
  clock: ClipClock;
  /** Seconds before start / after end to include (default 10 each). */
  preRollSec?: number;
  postRollSec?: number;
}

/** Coverage on the request's clock; missing amounts are in seconds. */
export interface ClipCoverage {
  clock: ClipClock;
  requested: [number, number];
  /**
   * What the clip spans, or null when the ring holds nothing of the window. Starts on the first
   * chosen segment's keyframe (possibly before the request); a tail past the request is cut.
   */
  actual: [number, number] | null;
  missingBefore: number;
  missingAfter: number;
  /** Seconds of holes between chosen segments (recorder restarts). */
  gapSec: number;
}

export interface ClipPlan {
  segments: SegmentRecord[];
  coverage: ClipCoverage;
}

function span(r: SegmentRecord, clock: ClipClock): [number, number] {
  return clock === 'stream' ? [r.startTime, r.endTime] : [r.startWall, r.endWall];
}

/** Pure: which ring segments to join for a window, and how much of it they cover. */
export function planClip(ring: readonly SegmentRecord[], req: ClipWindowRequest): ClipPlan {
  if (!(req.end >= req.start)) throw new Error(`clip window end (${req.end}) is before start (${req.start})`);
  const unit = req.clock === 'stream' ? 1 : 1000;
  const from = req.start - (req.preRollSec ?? 10) * unit;
  const to = req.end + (req.postRollSec ?? 10) * unit;
  const chosen = [...ring]
    .sort((a, b) => span(a, req.clock)[0] - span(b, req.clock)[0])
    .filter((r) => {
      const [s, e] = span(r, req.clock);
      return e > from && s < to;
    });
  if (chosen.length === 0) {
    return {
      segments: [],
      coverage: { clock: req.clock, requested: [from, to], actual: null, missingBefore: (to - from) / unit, missingAfter: 0, gapSec: 0 },
    };
  }
  const first = span(chosen[0]!, req.clock);
  const last = span(chosen[chosen.length - 1]!, req.clock);
  let gap = 0;
  for (let i = 1; i < chosen.length; i++) {
    gap += Math.max(0, span(chosen[i]!, req.clock)[0] - span(chosen[i - 1]!, req.clock)[1]);
  }
  return {
    segments: chosen,
    coverage: {
      clock: req.clock,
      requested: [from, to],
      actual: [first[0], last[1]],
      missingBefore: round3(Math.max(0, first[0] - from) / unit),
      missingAfter: round3(Math.max(0, to - last[1]) / unit),
      // Sub-frame seams between consecutive segments are rounding, not holes.
      gapSec: round3(gap / unit > 0.05 ? gap / unit : 0),
    },
  };
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}

export interface ClipResult {
  /** Output MP4, or null when the ring held nothing of the window. */
  path: string | null;
  segments: SegmentRecord[];
  coverage: ClipCoverage;
  bytes: number;
}

export function runFfmpeg(args: string[], ffmpegPath = 'ffmpeg'): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn(ffmpegPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr!.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
    p.on('error', reject);
    p.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`ffmpeg exited ${code}: ${err.trim()}`))));
  });
}

/**
 * Assembles the clip for a window into outPath. Chosen segments are hard-linked into a private
 * directory first so the recorder may prune the ring meanwhile; a segment that vanished before it
 * could be linked is left out and the coverage recomputed, rather than failing the clip.
 */
export async function assembleClip(opts: {
  ringDir: string;
  ring: readonly SegmentRecord[];
  request: ClipWindowRequest;
  outPath: string;
  ffmpegPath?: string;
}): Promise<ClipResult> {
  let plan = planClip(opts.ring, opts.request);
  if (plan.segments.length === 0) return { path: null, segments: [], coverage: plan.coverage, bytes: 0 };
  const work = await mkdtemp(join(opts.outPath ? dirname(opts.outPath) : tmpdir(), '.clip-'));
  try {
    const held: SegmentRecord[] = [];
    for (const [i, r] of plan.segments.entries()) {
      const src = join(opts.ringDir, r.file);
      const dst = join(work, `${String(i).padStart(5, '0')}.ts`);
      try {
        await link(src, dst);
        held.push(r);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') continue;
        // Different filesystems: fall back to a copy.
        try {
          await copyFile(src, dst);
          held.push(r);
        } catch {
          continue;
        }
      }
    }
    if (held.length !== plan.segments.length) plan = planClip(held, opts.request);
    if (plan.segments.length === 0) return { path: null, segments: [], coverage: plan.coverage, bytes: 0 };
    const names = plan.segments.map((r) => `${String(held.indexOf(r)).padStart(5, '0')}.ts`);
    const list = join(work, 'list.ffconcat');
    await writeFile(list, 'ffconcat version 1.0\n' + names.map((n) => `file '${n}'\n`).join(''));
    const tmpOut = join(work, 'clip.mp4');
    // The start must stay on the first segment's keyframe, but the tail can be cut at any packet:
    // this keeps the clip within one segment of the requested window instead of two.
    const coverage = plan.coverage;
    const unit = opts.request.clock === 'stream' ? 1 : 1000;
    const trim: string[] = [];
    if (coverage.actual && coverage.actual[1] > coverage.requested[1]) {
      trim.push('-t', ((coverage.requested[1] - coverage.actual[0]) / unit).toFixed(3));
      coverage.actual = [coverage.actual[0], coverage.requested[1]];
    }
    // ffmpeg tags stream-copied HEVC in MP4 as hev1, which Apple's players (and so many users of the
    // case platform) refuse to play; hvc1 is the usual tag for it.
    const codec = await probeInput(parseInput(join(work, names[0]!)))
      .then((p) => p.codec)
      .catch(() => 'unknown');
    const tag = codec === 'hevc' ? ['-tag:v', 'hvc1'] : [];
    // Our own list of our own ring files, but still through the boundary: file protocol only.
    const listSpec = parseInput(list);
    await runFfmpeg(
      [
        '-hide_banner',
        '-nostdin',
        '-loglevel',
        'error',
        ...inputGuardArgs(listSpec),
        '-f',
        'concat',
        '-safe',
        '0',
        '-i',
        listSpec.ffmpegInput,
        '-map',
        '0:v:0',
        '-map',
        '0:a?',
        '-c',
        'copy',
        ...tag,
        ...trim,
        '-movflags',
        '+faststart',
        '-f',
        'mp4',
        '-y',
        tmpOut,
      ],
      opts.ffmpegPath,
    );
    await rename(tmpOut, opts.outPath);
    return { path: opts.outPath, segments: plan.segments, coverage: plan.coverage, bytes: (await stat(opts.outPath)).size };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
