// Continuous recording of a camera's original stream into short stream-copied MPEG-TS segments, kept
// in a bounded ring on local disk. ffmpeg's segment muxer cuts only at keyframes, so every segment
// starts with one and clips can be assembled later without re-encoding.
//
// Clocks. Each index record carries both clocks:
//   startTime/endTime  stream seconds, as the segment muxer reports them, offset so they keep rising
//                      across ffmpeg restarts. For file inputs these match `Frame.streamTime` of a
//                      frame source reading the same file from its start.
//   startWall/endWall  epoch ms. The muxer closes a segment when the next keyframe arrives, i.e. at
//                      the segment's end, so endWall is the arrival time of its list entry and
//                      startWall = endWall − duration. For live inputs this matches `Frame.wallTime`
//                      (both are "when ffmpeg emitted it") to within the decode latency.
// Clip and snapshot requests therefore use clock 'wall' for live inputs and 'stream' for files
// (see `defaultClock`).
import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { backoffDelay } from '../backoff.js';
import { inputGuardArgs, isLiveInput, isRtsp, parseInput, scrubSecrets, type InputSpec } from './input-url.js';

export interface SegmentRecord {
  /** File name inside the ring directory. */
  file: string;
  startTime: number;
  endTime: number;
  startWall: number;
  endWall: number;
  bytes: number;
}

export type ClipClock = 'stream' | 'wall';

export interface RecorderOptions {
  cameraId: string;
  /** File path, rtsp://, rtsps://, or http(s):// (HLS .m3u8) URL. */
  input: string;
  /** Ring directory (one per camera). */
  dir: string;
  /** Target segment length in seconds (actual cuts wait for the next keyframe). Default 2. */
  segmentSec?: number;
  /** Ring limits: oldest segments are deleted past either. */
  maxBytes: number;
  maxAgeSec: number;
  /** Files only: read at native speed (-re). Default false so tests run faster than realtime. */
  realtime?: boolean;
  /**
   * Files only: read at this multiple of native speed (-readrate), e.g. 40 to compress a long synthetic
   * stream in time while keeping segment events at a pace the ring can follow. Overrides `realtime`.
   */
  readRate?: number;
  /** Files only: loop forever (-stream_loop -1), e.g. as a synthetic endless stream. */
  loop?: boolean;
  /** Also record audio (off by default: many camera audio codecs cannot go into MPEG-TS as-is). */
  audio?: boolean;
  rtspTransport?: 'tcp' | 'udp';
  ffmpegPath?: string;
  /** Restart backoff after ffmpeg dies (ms): pipeline/backoff from restartMinMs (1000) up to restartMaxMs (30000). */
  restartMinMs?: number;
  restartMaxMs?: number;
  /**
   * Attached mode: no ffmpeg of its own. A frame source reading the same camera adds the segment
   * output to its own run (beginRun), so the camera is connected to once; its reconnect, stall and
   * backoff logic then drives recording too.
   */
  attached?: boolean;
  /**
   * The input as checked by the address policy (pinned to the checked address). Default: parseInput
   * of `input`, which refuses concat:, file:, data: and the other pseudo-protocols.
   */
  spec?: InputSpec;
  /** Query parameters of `input` to treat as secrets when scrubbing errors. */
  secretParams?: readonly string[];
}

/** Which clock clip requests against this input should use (see file header). */
export function defaultClock(input: string): ClipClock {
  return isLiveInput(input) ? 'wall' : 'stream';
}

/** ffmpeg arguments for one recording run (exported for inspection in tests and logs). */
export function recorderArgs(
  opts: RecorderOptions,
  runId: string,
  spec: InputSpec = opts.spec ?? parseInput(opts.input, { secretParams: opts.secretParams }),
): string[] {
  const live = spec.kind !== 'file';
  const rtsp = isRtsp(spec.kind);
  // The whitelist comes first: the recorder reads the same hostile inputs as the frame source.
  const args = ['-hide_banner', '-nostdin', '-loglevel', 'error', ...inputGuardArgs(spec)];
  if (rtsp) args.push('-rtsp_transport', opts.rtspTransport ?? 'tcp', '-timeout', '10000000');
  if (spec.kind === 'hls') args.push('-reconnect', '1', '-reconnect_streamed', '1', '-reconnect_delay_max', '5');
  if (!live && opts.readRate !== undefined) args.push('-readrate', String(opts.readRate));
  else if (!live && opts.realtime) args.push('-re');
  if (!live && opts.loop) args.push('-stream_loop', '-1');
  args.push('-fflags', '+genpts', '-i', spec.ffmpegInput);
  args.push(...segmentOutputArgs(opts, runId, 'pipe:1', spec.kind));
  return args;
}

/**
 * The segment-ring output of an ffmpeg run: stream copy of the first video stream into MPEG-TS
 * segments, the CSV list ("file,start,end" as each segment closes) written to `listTarget`. Used as
 * the whole output of a standalone recorder run, and as the second output of a frame source's run
 * (one connection to the camera for both recording and analysis).
 */
export function segmentOutputArgs(
  opts: Pick<RecorderOptions, 'dir' | 'segmentSec' | 'audio'>,
  runId: string,
  listTarget: string,
  kind: InputSpec['kind'],
): string[] {
  const rtsp = isRtsp(kind);
  const args = ['-map', '0:v:0'];
  if (opts.audio) args.push('-map', '0:a:0?');
  args.push('-c', 'copy');
  // RTP carries presentation times only. With B-frames the first packets reach the muxer without
  // a decode time and MPEG-TS refuses them ("first pts and dts value must be set"), so every run
  // died at once; such packets take their pts as dts.
  if (rtsp) args.push('-bsf:v', 'setts=dts=if(eq(DTS\\,NOPTS)\\,PTS\\,DTS)');
  args.push(
    '-f',
    'segment',
    '-segment_time',
    String(opts.segmentSec ?? 2),
    '-segment_format',
    'mpegts',
    '-reset_timestamps',
    '1',
    // Otherwise the muxer shifts all times by the B-frame delay and the list times run ahead of the
    // decoded frame times (and of Frame.streamTime) by that much.
    '-avoid_negative_ts',
    'disabled',
    '-segment_list',
    listTarget,
    '-segment_list_type',
    'csv',
    join(opts.dir, `${runId}-%06d.ts`),
  );
  return args;
}

/** One ffmpeg run of a frame source that also feeds this ring (see Recorder.beginRun). */
export interface AttachedRun {
  /** Output arguments to append to the run's ffmpeg command line. */
  outputArgs: string[];
  /** Call once the process is spawned, with the stream its segment list is written to. */
  attach(list: NodeJS.ReadableStream): void;
  /** Call when the process has exited; resolves when every listed segment is indexed. */
  end(): Promise<void>;
}

/** Pure pruning decision: which records to drop so the ring keeps within its limits. */
export function planPrune(
  segments: readonly SegmentRecord[],
  limits: { maxBytes: number; maxAgeSec: number; headroomBytes?: number },
  now: number,
): { keep: SegmentRecord[]; drop: SegmentRecord[] } {
  const keep = [...segments];
  const drop: SegmentRecord[] = [];
  let total = keep.reduce((s, r) => s + r.bytes, 0);
  const budget = limits.maxBytes - (limits.headroomBytes ?? 0);
  while (keep.length > 0 && (total > budget || now - keep[0]!.endWall > limits.maxAgeSec * 1000)) {
    const r = keep.shift()!;
    total -= r.bytes;
    drop.push(r);
  }
  return { keep, drop };
}

const INDEX = 'index.json';

/** A camera's ring directory under a data directory (the workers' DATA_DIR). */
export function ringDirOf(dataDir: string, cameraId: string): string {
  // Camera ids allow dots: '.' and '..' would name the rings folder or DATA_DIR itself.
  if (!cameraId || cameraId === '.' || cameraId === '..' || /[\\/]/.test(cameraId))
    throw new Error(`camera id "${cameraId}" cannot name a ring directory`);
  return join(dataDir, 'rings', cameraId);
}

/**
 * The ring's index as last persisted (oldest first), [] when there is none yet. The index is
 * rewritten before files are pruned, so it may list a segment another process is about to delete:
 * readers (clip assembly, try-before-save replays) hold segments by hard link and treat a vanished
 * one as a gap.
 */
export async function readRingIndex(dir: string): Promise<SegmentRecord[]> {
  try {
    const parsed: unknown = JSON.parse(await readFile(join(dir, INDEX), 'utf8'));
    return Array.isArray(parsed) ? (parsed as SegmentRecord[]) : [];
  } catch {
    return [];
  }
}

/** Segments of the ring in `dir` overlapping [from, to] on `clock` (epoch ms for 'wall', seconds for 'stream'), oldest first. */
export async function ringSegments(dir: string, window: { from: number; to: number; clock: ClipClock }): Promise<SegmentRecord[]> {
  const wall = window.clock === 'wall';
  return (await readRingIndex(dir)).filter((r) =>
    wall ? r.endWall > window.from && r.startWall < window.to : r.endTime > window.from && r.startTime < window.to,
  );
}

export interface RecorderEvents {
  segment: [SegmentRecord];
  pruned: [SegmentRecord[]];
  restart: [{ code: number | null; signal: string | null; delayMs: number; stderr: string }];
  end: [];
  error: [Error];
}

export class Recorder extends EventEmitter<RecorderEvents> {
  readonly opts: RecorderOptions;
  private index: SegmentRecord[] = [];
  private proc: ChildProcess | null = null;
  private running = false;
  private restartTimer: NodeJS.Timeout | null = null;
  /** ffmpeg runs that died since the last segment (the restart backoff's attempt). */
  private failedRuns = 0;
  private streamOffset = 0;
  private runStreamEnd = 0;
  private persistChain: Promise<void> = Promise.resolve();
  /** Settles when the current ffmpeg run has exited and all its list lines are indexed. */
  private runDone: Promise<void> = Promise.resolve();
  private readonly spec: InputSpec;
  /** Epoch ms of the last completed segment (null before the first). */
  lastSegmentAt: number | null = null;
  /**
   * Epoch ms the last segment with content was listed by ffmpeg (null before the first). Set as the
   * list line is read, before its file is looked at: on a busy host the file system calls of
   * indexing queue behind other work in libuv's thread pool (inference, JPEG encodes), and that
   * delay is not the camera's. The stall watchdogs judge this.
   */
  lastListedAt: number | null = null;
  restarts = 0;
  /** Attached mode: how restart() ends the current run (the frame source's kill). */
  killRun: (() => void) | null = null;
  private attachedRuns = 0;

  constructor(opts: RecorderOptions) {
    super();
    // Throws InputError for anything the input boundary refuses (concat:, file:, data:, …).
    this.spec = opts.spec ?? parseInput(opts.input, { secretParams: opts.secretParams });
    if (!(opts.maxBytes > 0) || !(opts.maxAgeSec > 0)) throw new Error('recorder: maxBytes and maxAgeSec must be positive');
    const seg = opts.segmentSec ?? 2;
    if (!(seg >= 0.5 && seg <= 60)) throw new Error(`recorder: segmentSec must be 0.5..60, got ${seg}`);
    if (opts.readRate !== undefined && !(opts.readRate > 0)) throw new Error(`recorder: readRate must be positive, got ${opts.readRate}`);
    this.opts = { segmentSec: 2, ...opts };
  }

  get clock(): ClipClock {
    return this.spec.kind === 'file' ? 'stream' : 'wall';
  }

  /** Segments currently in the ring, oldest first (a copy). */
  segments(): SegmentRecord[] {
    return this.index.map((r) => ({ ...r }));
  }

  totalBytes(): number {
    return this.index.reduce((s, r) => s + r.bytes, 0);
  }

  /** pid of the current ffmpeg (for supervision and tests). */
  get pid(): number | undefined {
    return this.proc?.pid;
  }

  /** True when no segment has arrived for 2 × segment length + 30 s (the workers then restart it). */
  isStalled(now = Date.now(), since?: number): boolean {
    const ref = this.lastListedAt ?? since ?? now;
    return now - ref > 2 * this.opts.segmentSec! * 1000 + 30_000;
  }

  async start(): Promise<void> {
    if (this.running) return;
    await mkdir(this.opts.dir, { recursive: true });
    await this.loadIndex();
    this.running = true;
    if (!this.opts.attached) this.spawnRun();
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = null;
    const p = this.proc;
    if (p && p.exitCode === null && p.signalCode === null) {
      // SIGTERM lets ffmpeg close the current segment and list it.
      p.kill('SIGTERM');
      const t = setTimeout(() => p.kill('SIGKILL'), 5000);
      await this.runDone;
      clearTimeout(t);
    }
    await this.runDone;
    await this.persistChain;
  }

  /** Kills and respawns ffmpeg (used by supervisors on a stall). */
  restart(): void {
    if (this.opts.attached) this.killRun?.();
    else this.proc?.kill('SIGKILL');
  }

  /** Ring limit change (a worker's disk budget is split over the cameras it holds). */
  setMaxBytes(maxBytes: number): void {
    if (!(maxBytes > 0)) throw new Error('recorder: maxBytes must be positive');
    this.opts.maxBytes = maxBytes;
  }

  /**
   * Attached mode: a new ffmpeg run of the frame source starts. Returns the segment output to add
   * to its command line; the segment list arrives on a stream the caller hands to attach().
   */
  beginRun(listTarget: string): AttachedRun {
    if (!this.opts.attached) throw new Error('recorder: beginRun() is for attached recorders');
    const runId = `${Date.now().toString(36)}`;
    if (this.attachedRuns++ > 0) this.restarts++;
    const offset = this.streamOffset;
    this.runStreamEnd = 0;
    let indexed = () => Promise.resolve();
    let finish!: () => void;
    this.runDone = new Promise<void>((r) => (finish = r));
    let ended = false;
    return {
      outputArgs: segmentOutputArgs(this.opts, runId, listTarget, this.spec.kind),
      attach: (list) => {
        indexed = this.followList(list, offset);
      },
      end: async () => {
        if (ended) return this.runDone;
        ended = true;
        // ChildProcess 'close' comes after its stdio ended, so every list line is queued by now.
        await indexed();
        this.streamOffset = offset + this.runStreamEnd;
        finish();
      },
    };
  }

  private async loadIndex(): Promise<void> {
    const loaded = await readRingIndex(this.opts.dir);
    const present: SegmentRecord[] = [];
    for (const r of loaded) {
      const st = await stat(join(this.opts.dir, r.file)).catch(() => null);
      if (st?.isFile()) present.push({ ...r, bytes: st.size });
    }
    this.index = present;
    // Files the index does not know are partial segments of a run that was killed mid-write.
    const known = new Set(present.map((r) => r.file));
    for (const f of await readdir(this.opts.dir)) {
      if (f.endsWith('.ts') && !known.has(f)) await rm(join(this.opts.dir, f), { force: true });
    }
    const last = present[present.length - 1];
    this.streamOffset = last ? last.endTime : 0;
    await this.prune();
  }

  private spawnRun(): void {
    const runId = `${Date.now().toString(36)}`;
    const args = recorderArgs(this.opts, runId, this.spec);
    const proc = spawn(this.opts.ffmpegPath ?? 'ffmpeg', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc = proc;
    this.runStreamEnd = 0;
    const offset = this.streamOffset;
    let stderr = '';
    proc.stderr!.on('data', (d: Buffer) => {
      stderr = scrubSecrets((stderr + d.toString()).slice(-4000), this.spec);
    });
    let finish!: () => void;
    this.runDone = new Promise<void>((r) => (finish = r));
    const indexed = this.followList(proc.stdout!, offset);
    proc.on('error', (err) => this.emit('error', new Error(`recorder ${this.opts.cameraId}: cannot run ffmpeg: ${err.message}`)));
    proc.on('close', (code, signal) => {
      void indexed().then(() => {
        finish();
        if (this.proc === proc) this.proc = null;
        this.streamOffset = offset + this.runStreamEnd;
        const endless = this.spec.kind !== 'file' || this.opts.loop;
        if (!this.running) return;
        if (!endless && code === 0) {
          this.running = false;
          this.emit('end');
          return;
        }
        if (!endless) {
          this.running = false;
          this.emit(
            'error',
            new Error(`recorder ${this.opts.cameraId}: ffmpeg failed on ${this.spec.display} (exit ${code ?? signal}): ${stderr.trim()}`),
          );
          return;
        }
        const delayMs = backoffDelay(++this.failedRuns, {
          initialMs: this.opts.restartMinMs ?? 1000,
          maxMs: this.opts.restartMaxMs ?? 30_000,
        });
        this.restarts++;
        this.emit('restart', { code, signal, delayMs, stderr: stderr.trim() });
        this.restartTimer = setTimeout(() => {
          this.restartTimer = null;
          if (this.running) this.spawnRun();
        }, delayMs);
      });
    });
  }

  /** Indexes a run's segment list line by line, in order; the returned function gives what settles once every line read so far is indexed. */
  private followList(list: NodeJS.ReadableStream, offset: number): () => Promise<void> {
    let lines = Promise.resolve();
    createInterface({ input: list }).on('line', (line) => {
      const arrived = Date.now();
      const times = parseListLine(line);
      // An empty segment (a run dying before its first packet) lists start = end: not progress.
      if (times && times.end > times.start) this.lastListedAt = arrived;
      lines = lines
        .then(() => this.onListLine(line, arrived, offset))
        .catch((err: Error) => {
          this.emit('error', err);
        });
    });
    return () => lines;
  }

  private async onListLine(line: string, arrived: number, offset: number): Promise<void> {
    // "name,start,end" — the name has no commas (we chose it).
    const parsed = parseListLine(line);
    if (!parsed) return;
    const { file, start, end } = parsed;
    const st = await stat(join(this.opts.dir, file)).catch(() => null);
    if (!st) return;
    if (st.size === 0 || !(end > start)) {
      // A run that died before writing a packet still lists its segment: nothing to keep, and a
      // failing run must not look like progress to the stall watchdog.
      await rm(join(this.opts.dir, file), { force: true });
      return;
    }
    this.runStreamEnd = Math.max(this.runStreamEnd, end);
    const durMs = Math.max(0, (end - start) * 1000);
    const rec: SegmentRecord = {
      file,
      startTime: round3(offset + start),
      endTime: round3(offset + end),
      startWall: Math.round(arrived - durMs),
      endWall: arrived,
      bytes: st.size,
    };
    this.index.push(rec);
    this.lastSegmentAt = arrived;
    this.failedRuns = 0;
    await this.prune();
    this.emit('segment', { ...rec });
  }

  /**
   * Drops the oldest segments past the limits. The in-progress segment is not in the index yet, so a
   * headroom of the largest recent segment is kept free for it: the directory as a whole then stays
   * within maxBytes, not just the index. The index is rewritten before files are deleted, so it never
   * lists a deleted file.
   */
  private async prune(): Promise<void> {
    const recent = this.index.slice(-5);
    const headroomBytes = recent.length ? Math.max(...recent.map((r) => r.bytes)) : 0;
    const { keep, drop } = planPrune(
      this.index,
      { maxBytes: this.opts.maxBytes, maxAgeSec: this.opts.maxAgeSec, headroomBytes },
      Date.now(),
    );
    this.index = keep;
    await this.persist();
    for (const r of drop) await rm(join(this.opts.dir, r.file), { force: true });
    if (drop.length) this.emit('pruned', drop);
  }

  private persist(): Promise<void> {
    const snapshot = JSON.stringify(this.index);
    this.persistChain = this.persistChain.then(async () => {
      const tmp = join(this.opts.dir, `${INDEX}.tmp`);
      const fh = await open(tmp, 'w');
      try {
        await fh.writeFile(snapshot);
      } finally {
        await fh.close();
      }
      await rename(tmp, join(this.opts.dir, INDEX));
    });
    return this.persistChain;
  }
}

/** A segment list line: "name,start,end" (the name has no commas: we chose it). */
export function parseListLine(line: string): { file: string; start: number; end: number } | null {
  const m = /^(.+),(-?[\d.]+),(-?[\d.]+)$/.exec(line.trim());
  if (!m) return null;
  const path = m[1]!;
  return { file: path.slice(path.lastIndexOf('/') + 1), start: Number(m[2]), end: Number(m[3]) };
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}
