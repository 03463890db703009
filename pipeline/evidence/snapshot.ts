// Evidence snapshots: a full-resolution frame pulled from the recording ring at the moment that
// matters (first seen, confirmation), annotated with boxes, zone and caption, plus a clean crop of the
// subject. Decoding happens here, off the detection hot path, from the stream-copied ring.
import { spawn } from 'node:child_process';
import { inputGuardArgs, parseInput } from '../source/input-url.js';
import { join } from 'node:path';
import sharp from 'sharp';
import { toPixels } from '../geometry/geometry.js';
import type { Box, NormPoint } from '../types.js';
import type { ClipClock, SegmentRecord } from '../source/recorder.js';
import { annotateImage, openImage, type ImageInput } from './annotate.js';

export interface ExtractedFrame {
  /** PNG-encoded frame at source resolution. */
  png: Buffer;
  width: number;
  height: number;
  segment: SegmentRecord;
  /** Seconds into the segment that were decoded up to. */
  offsetSec: number;
}

/**
 * Pure: the ring segment holding `time` on `clock`, and the offset into it in seconds. Wall-clock
 * segment bounds come from arrival times, so neighbours may leave seams of a few tens of ms: a time
 * within `toleranceSec` of a segment (and in no segment) takes that segment's nearest frame.
 */
export function locateInRing(
  ring: readonly SegmentRecord[],
  time: number,
  clock: ClipClock,
  toleranceSec = 0.5,
): { segment: SegmentRecord; offsetSec: number } | null {
  const unit = clock === 'stream' ? 1 : 1000;
  let best: { segment: SegmentRecord; offsetSec: number; distance: number } | null = null;
  for (const r of ring) {
    const [s, e] = clock === 'stream' ? [r.startTime, r.endTime] : [r.startWall, r.endWall];
    if (time >= s && time < e) return { segment: r, offsetSec: (time - s) / unit };
    const distance = (time < s ? s - time : time - e) / unit;
    // Just past the end: the segment's last frame (a frame interval before its end time).
    const offsetSec = time < s ? 0 : Math.max(0, (e - s) / unit - 0.1);
    if (distance <= toleranceSec && (!best || distance < best.distance)) best = { segment: r, offsetSec, distance };
  }
  return best && { segment: best.segment, offsetSec: best.offsetSec };
}

function decodePng(path: string, offsetSec: number, ffmpegPath = 'ffmpeg'): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    // -ss after -i: decode from the segment's leading keyframe to the exact frame (segments are short).
    const spec = parseInput(path);
    const p = spawn(
      ffmpegPath,
      [
        '-hide_banner',
        '-nostdin',
        '-loglevel',
        'error',
        ...inputGuardArgs(spec),
        '-i',
        spec.ffmpegInput,
        '-ss',
        offsetSec.toFixed(3),
        '-frames:v',
        '1',
        '-f',
        'image2pipe',
        '-c:v',
        'png',
        'pipe:1',
      ],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const chunks: Buffer[] = [];
    let err = '';
    p.stdout!.on('data', (d: Buffer) => chunks.push(d));
    p.stderr!.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-2000)));
    p.on('error', reject);
    p.on('close', (code) => {
      const png = Buffer.concat(chunks);
      if (code === 0 && png.length > 0) resolve(png);
      else
        reject(
          new Error(
            `frame extraction from ${path} at ${offsetSec.toFixed(3)} s failed (exit ${code}): ${err.trim() || 'no frame decoded'}`,
          ),
        );
    });
  });
}

/** How much earlier a snapshot is taken when its exact time is past the segment's last frame. */
const EARLIER_FRAME_SEC = 0.5;

/** Decodes the frame at `time` from the ring; null when the ring does not (or no longer) hold it. */
export async function extractFrame(opts: {
  ringDir: string;
  ring: readonly SegmentRecord[];
  time: number;
  clock: ClipClock;
  ffmpegPath?: string;
}): Promise<ExtractedFrame | null> {
  const at = locateInRing(opts.ring, opts.time, opts.clock);
  if (!at) return null;
  const file = join(opts.ringDir, at.segment.file);
  let png: Buffer;
  let offsetSec = at.offsetSec;
  try {
    png = await decodePng(file, offsetSec, opts.ffmpegPath);
  } catch (err) {
    // Pruned between lookup and decode: report absence like any other gap in the ring.
    if (/No such file/i.test((err as Error).message)) return null;
    // A time in a segment's last tenths of a second may lie past its last frame: its bounds come from
    // the segment list and arrival times, not from the frames it holds (B-frame delay, a short last
    // GOP). Take the frame half a second earlier, within the same segment, rather than none.
    if (!/no frame decoded/.test((err as Error).message) || offsetSec === 0) throw err;
    offsetSec = Math.max(0, offsetSec - EARLIER_FRAME_SEC);
    png = await decodePng(file, offsetSec, opts.ffmpegPath);
  }
  const meta = await sharp(png).metadata();
  return { png, width: meta.width!, height: meta.height!, segment: at.segment, offsetSec };
}

export interface SnapshotSpec {
  /** Subject boxes in source pixels; the first is the one cropped. */
  boxes: Box[];
  /** Box labels, e.g. "占道经营 street_vending 0.82" (defaults to classLabel). */
  boxLabels?: string[];
  zones?: { polygon: readonly NormPoint[]; label?: string }[];
  /** Bilingual class name, e.g. "占道经营 street_vending". */
  classLabel: string;
  cameraId: string;
  /** Stage shown in the caption, e.g. "首次发现 first seen" or "确认 confirmed". */
  stage: string;
  /** Epoch ms shown in the caption, in `timeZone`. */
  wallTime: number;
  timeZone?: string;
  /** Crop margin as a fraction of the box size on each side (default 0.15). */
  cropMargin?: number;
  quality?: number;
}

export function formatWallTime(epochMs: number, timeZone: string): string {
  const parts = new Intl.DateTimeFormat('en-CA', {
    timeZone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    hourCycle: 'h23',
  }).formatToParts(new Date(epochMs));
  const get = (t: string) => parts.find((p) => p.type === t)?.value ?? '??';
  return `${get('year')}-${get('month')}-${get('day')} ${get('hour')}:${get('minute')}:${get('second')}`;
}

function cropBounds(box: Box, width: number, height: number, margin: number): { left: number; top: number; right: number; bottom: number } {
  const mx = (box.x2 - box.x1) * margin;
  const my = (box.y2 - box.y1) * margin;
  return {
    left: Math.max(0, Math.floor(box.x1 - mx)),
    top: Math.max(0, Math.floor(box.y1 - my)),
    right: Math.min(width, Math.ceil(box.x2 + mx)),
    bottom: Math.min(height, Math.ceil(box.y2 + my)),
  };
}

function cropProblem(box: Box, width: number, height: number, margin: number): string | null {
  const b = cropBounds(box, width, height, margin);
  return b.right - b.left < 1 || b.bottom - b.top < 1
    ? `crop box (${box.x1},${box.y1})-(${box.x2},${box.y2}) lies outside the ${width}x${height} image`
    : null;
}

/** Pure: the crop rectangle for a box with margin, clamped to the image (integer pixels). */
export function cropRect(
  box: Box,
  width: number,
  height: number,
  margin: number,
): { left: number; top: number; width: number; height: number } {
  const problem = cropProblem(box, width, height, margin);
  if (problem) throw new Error(problem);
  const b = cropBounds(box, width, height, margin);
  return { left: b.left, top: b.top, width: b.right - b.left, height: b.bottom - b.top };
}

/** Annotated JPEG of the whole frame and a clean JPEG crop of the first subject box. */
export async function renderSnapshot(
  frame: ImageInput,
  spec: SnapshotSpec,
): Promise<{ annotated: Buffer; crop: Buffer | null; width: number; height: number }> {
  const { width, height } = await openImage(frame);
  const tz = spec.timeZone ?? 'Asia/Shanghai';
  const annotated = await annotateImage(
    frame,
    {
      boxes: spec.boxes.map((box, i) => ({ box, label: spec.boxLabels?.[i] ?? spec.classLabel })),
      polygons: (spec.zones ?? []).map((z) => ({
        points: toPixels(z.polygon, width, height).map(([x, y]) => [x, y] as [number, number]),
        label: z.label,
      })),
      caption: `${spec.classLabel} · ${spec.stage}\n${spec.cameraId}  ${formatWallTime(spec.wallTime, tz)} (${tz})`,
    },
    { quality: spec.quality },
  );
  let crop: Buffer | null = null;
  const subject = spec.boxes[0];
  // A box outside the picture (a track predicted past the border) has nothing to crop: no crop.
  if (subject && cropProblem(subject, width, height, spec.cropMargin ?? 0.15) === null) {
    const rect = cropRect(subject, width, height, spec.cropMargin ?? 0.15);
    const { image } = await openImage(frame);
    crop = await image
      .extract(rect)
      .jpeg({ quality: spec.quality ?? 90 })
      .toBuffer();
  }
  return { annotated, crop, width, height };
}
