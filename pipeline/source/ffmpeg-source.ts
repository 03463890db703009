// Frames from any camera or file through one ffmpeg child: decode, pick frames at the analysis fps,
// letterbox to the model input and hand out packed pixels. Resizing happens inside ffmpeg so the
// JS hot path only copies bytes.
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { EventEmitter } from 'node:events';
import type { Readable } from 'node:stream';
import { backoffDelay, type Backoff } from '../backoff.js';
import type { Frame, Letterbox, PixelFormat } from '../types.js';
import { FrameQueue, type OverflowPolicy } from './frame-queue.js';
import { inputGuardArgs, isRtsp, parseInput, scrubSecrets, type InputSpec, type ParseInputOptions } from './input-url.js';
import { computeLetterbox, letterboxFilter } from '../geometry/letterbox.js';
import { probeInput, type ProbeResult } from './probe.js';
import { tileRects, type Rect, type TilingOptions } from '../geometry/tiles.js';
import { assembleRegion, regionFilters, regionGeometry, regionRows, type RegionGeometry, type RegionRequest } from './regions.js';
import type { AttachedRun, Recorder } from './recorder.js';
import { stallVerdict } from './watchdog.js';

/**
 * How frames are decoded. 'keyframes' decodes only keyframes (-skip_frame nokey: the decoder skips
 * every other picture, roughly GOP-length times cheaper); 'full' decodes every frame and picks them
 * at the analysed fps. 'auto' chooses keyframes for a live stream whose keyframe rate (probed on
 * every connect) is at least the analysed fps, else full.
 */
export type DecodeMode = 'auto' | 'keyframes' | 'full';

/** What a session decided about decoding, from the probe of that connection. */
export interface DecodeDecision {
  mode: 'keyframes' | 'full';
  /** Why (for health records and logs). */
  reason: string;
  /** Seconds between keyframes as probed (null: not probed or not measurable). */
  keyframeInterval: number | null;
  /** Frames per second the analysis gets in this mode. */
  effectiveFps: number;
}

/** Pure: the decode mode for a session (see DecodeMode). */
export function chooseDecode(requested: DecodeMode, fps: number, live: boolean, keyframeInterval: number | null): DecodeDecision {
  const kfRate = keyframeInterval && keyframeInterval > 0 ? 1 / keyframeInterval : null;
  if (requested === 'keyframes') {
    return { mode: 'keyframes', reason: 'configured', keyframeInterval, effectiveFps: kfRate ? Math.min(fps, kfRate) : fps };
  }
  if (requested === 'full') return { mode: 'full', reason: 'configured', keyframeInterval, effectiveFps: fps };
  if (!live) return { mode: 'full', reason: 'file input: every frame is available', keyframeInterval, effectiveFps: fps };
  if (kfRate === null) return { mode: 'full', reason: 'keyframe rate unknown', keyframeInterval, effectiveFps: fps };
  // 5 % slack: a nominal 2 s GOP measures 1.96–2.04 s from packet times.
  if (fps <= kfRate * 1.05) {
    return {
      mode: 'keyframes',
      reason: `analysed ${fps} fps <= keyframe rate ${round3(kfRate)}/s`,
      keyframeInterval,
      effectiveFps: Math.min(fps, kfRate),
    };
  }
  return { mode: 'full', reason: `analysed ${fps} fps > keyframe rate ${round3(kfRate)}/s`, keyframeInterval, effectiveFps: fps };
}

export type SourceStateName = 'connecting' | 'online' | 'stalled' | 'offline' | 'ended' | 'failed';

export interface SourceState {
  state: SourceStateName;
  reason?: string;
  /** Epoch ms when this state began. */
  since: number;
  /** Consecutive failed connection attempts so far. */
  attempt: number;
  /** For offline: ms until the next attempt. */
  retryInMs?: number;
}

export interface FrameSourceOptions extends ParseInputOptions {
  input: string;
  /** Model input size and pad; frames come out letterboxed to this. */
  width: number;
  height: number;
  padValue?: number;
  /**
   * Tiled inference: ffmpeg also cuts cols x rows overlapping crops of the decoded source picture
   * and resizes each to width x height; they arrive as frame.tiles. Absent: no tiles.
   */
  tiling?: TilingOptions;
  /**
   * Regions (normalised 0..1) also delivered at source resolution as frame.regions, in this order:
   * cut before the resize, so small text there stays readable. Absent or empty: none.
   */
  regions?: RegionRequest[];
  /** Longest side (px) of a region crop; larger regions are scaled down to it. Default 960. */
  regionMaxSide?: number;
  /** How the source fills width x height: keep aspect and pad (default), or stretch per axis. */
  resize?: 'letterbox' | 'stretch';
  pixelFormat?: PixelFormat;
  /** Analysed frames per second (in keyframe mode: at most this many keyframes per second). */
  fps?: number;
  /** Same as decode: 'keyframes' (kept for existing configs and the CLI). */
  keyframesOnly?: boolean;
  /** Decoding mode (default 'full'; keyframesOnly → 'keyframes'). */
  decode?: DecodeMode;
  /** Live, decode 'auto': seconds of packets the connect probe reads to measure the GOP. */
  gopProbeSec?: number;
  /**
   * A recorder in attached mode: its segment output is added to this source's ffmpeg run, so one
   * connection feeds both the ring and the analysis.
   */
  recorder?: Recorder;
  queueCapacity?: number;
  overflow?: OverflowPolicy;
  /** Live only: no frame for this long → stalled → reconnect. */
  stallTimeoutSec?: number;
  /** Live only: how long a (re)connection may take to produce its first frame. */
  connectTimeoutSec?: number;
  backoff?: Partial<Backoff>;
  /** Live only: give up after this many consecutive failed attempts (default: never). */
  maxReconnects?: number;
  rtspTransport?: 'tcp' | 'udp';
  /** Read a file at its native rate (-re), e.g. to simulate a camera. */
  realtime?: boolean;
  /** Test hook for deterministic backoff. */
  random?: () => number;
  /** The input as checked by the address policy (pinned); default parseInput(input). */
  spec?: InputSpec;
}

export interface SourceStats {
  frames: number;
  decode: DecodeDecision | null;
  dropped: number;
  reconnects: number;
  /** Stall checks skipped because node's event loop was held up (see watchdog.ts). */
  lagRearms: number;
  state: SourceState;
}

export class SourceError extends Error {}

// ±20 % so many cameras do not reconnect in lockstep.
const DEFAULT_BACKOFF: Backoff = { initialMs: 1000, maxMs: 30_000, factor: 2, jitter: 0.2 };

const STILL_IMAGE = /\.(jpe?g|png|bmp|webp|tiff?)$/i;

function isStillImage(spec: InputSpec): boolean {
  return spec.kind === 'file' && STILL_IMAGE.test(spec.ffmpegInput);
}

const SHOWINFO = /\bn:\s*(\d+)\s+pts:\s*(-?\d+)\s+pts_time:\s*(-?[0-9.eE+-]+)/;

/** A tile as ffmpeg produces it: a crop of the source and its geometry in the model input. */
export interface TileGeometry {
  rect: Rect;
  letterbox: Letterbox;
}

/** Tiles for a source of this size, each crop fitted to the model input the way the full frame is. */
export function tileGeometry(
  srcWidth: number,
  srcHeight: number,
  dstWidth: number,
  dstHeight: number,
  mode: 'letterbox' | 'stretch',
  tiling: TilingOptions,
): TileGeometry[] {
  return tileRects(srcWidth, srcHeight, tiling).map((rect) => ({
    rect,
    letterbox: computeLetterbox(rect.width, rect.height, dstWidth, dstHeight, mode),
  }));
}

/** The ffmpeg argument list for one session (pure; exported for tests and for reading). */
export function buildFfmpegArgs(
  spec: InputSpec,
  lb: Letterbox,
  o: Required<
    Pick<FrameSourceOptions, 'fps' | 'keyframesOnly' | 'padValue' | 'pixelFormat' | 'rtspTransport' | 'realtime' | 'stallTimeoutSec'>
  >,
  /** A second output (the recorder's segment ring) on the same input. */
  extraOutput: string[] = [],
  tiles: readonly TileGeometry[] = [],
  regions: readonly RegionGeometry[] = [],
): string[] {
  const args = ['-hide_banner', '-nostdin', '-nostats', '-loglevel', 'info', ...inputGuardArgs(spec)];
  if (isRtsp(spec.kind)) {
    args.push('-rtsp_transport', o.rtspTransport, '-timeout', String(Math.round(o.stallTimeoutSec * 1e6)));
  }
  if (spec.kind === 'hls') args.push('-f', 'hls', '-rw_timeout', String(Math.round(o.stallTimeoutSec * 1e6)));
  // Decoder option: the stream-copied recording output is not affected. One keyframe every second
  // or two needs no frame-threaded decoder; its per-thread contexts and frames cost ~8 MB per camera.
  if (o.keyframesOnly) args.push('-skip_frame', 'nokey', '-threads', '1', '-filter_threads', '1');
  if (o.realtime && spec.kind === 'file') args.push('-re');
  // The recorder's segment muxer needs pts on every packet (RTP with B-frames lacks some).
  if (extraOutput.length) args.push('-fflags', '+genpts');
  args.push('-i', spec.ffmpegInput);
  const filters = [];
  if (o.keyframesOnly) {
    // At most fps keyframes a second (never duplicates, unlike the fps filter on a sparse input).
    filters.push(`select=isnan(prev_selected_t)+gte(t-prev_selected_t\\,${round3(0.9 / o.fps)})`);
  } else {
    // ffmpeg's fps filter drops a lone frame that has no duration, so a photo gave zero frames.
    filters.push(isStillImage(spec) ? `fps=${o.fps}:eof_action=pass` : `fps=${o.fps}`);
  }
  filters.push('showinfo=checksum=0');
  if (tiles.length === 0 && regions.length === 0) {
    filters.push(letterboxFilter(lb, o.padValue), `format=${o.pixelFormat}`);
    args.push('-map', '0:v:0', '-an', '-sn', '-dn', '-vf', filters.join(','));
  } else {
    // One picture per analysed frame: the full frame stacked above its tiles (model size) and its
    // region strips (model width), so frames stay one read of fixed size and showinfo still gives
    // one pts per frame.
    const n = tiles.length + regions.length + 1;
    const labels = Array.from({ length: n }, (_, i) => `[s${i}]`);
    const parts = [`[0:v:0]${filters.join(',')},split=${n}${labels.join('')}`, `[s0]${letterboxFilter(lb, o.padValue)}[o0]`];
    const outs = ['[o0]'];
    tiles.forEach((t, i) => {
      parts.push(
        `[s${i + 1}]crop=${t.rect.width}:${t.rect.height}:${t.rect.x}:${t.rect.y},${letterboxFilter(t.letterbox, o.padValue)}[o${i + 1}]`,
      );
      outs.push(`[o${i + 1}]`);
    });
    regions.forEach((g, r) => {
      const f = regionFilters(g, `[s${tiles.length + 1 + r}]`, `r${r}_`, lb.dstWidth);
      parts.push(...f.parts);
      outs.push(...f.outputs);
    });
    parts.push(
      outs.length > 1 ? `${outs.join('')}vstack=inputs=${outs.length},format=${o.pixelFormat}[out]` : `[o0]format=${o.pixelFormat}[out]`,
    );
    args.push('-filter_complex', parts.join(';'), '-map', '[out]', '-an', '-sn', '-dn');
  }
  if (o.keyframesOnly) args.push('-fps_mode', 'passthrough');
  args.push('-pix_fmt', o.pixelFormat, '-f', 'rawvideo', 'pipe:1');
  args.push(...extraOutput);
  return args;
}

interface SessionResult {
  ok: boolean;
  frames: number;
  reason: string;
}

export class FrameSource extends EventEmitter {
  readonly spec: InputSpec;
  private readonly opts: Required<
    Omit<FrameSourceOptions, keyof ParseInputOptions | 'backoff' | 'maxReconnects' | 'overflow' | 'random' | 'recorder' | 'spec'>
  > & {
    backoff: Backoff;
    maxReconnects: number;
    overflow: OverflowPolicy;
  };
  private readonly recorder: Recorder | null;
  private run_: AttachedRun | null = null;
  /** The current session's decoding decision (null before the first probe). */
  decode: DecodeDecision | null = null;
  private readonly random: () => number;
  private queue: FrameQueue<Frame> | null = null;
  private child: ChildProcessByStdio<null, Readable, Readable> | null = null;
  private stopped = false;
  private started = false;
  private wakeSleep: (() => void) | null = null;
  private frameCount = 0;
  private reconnects = 0;
  /** Watchdog firings that found node itself held up and re-armed instead of judging ffmpeg. */
  private lagRearms = 0;
  private lastStreamTime = -Infinity;
  private liveEpochWall: number | null = null;
  private current: SourceState = { state: 'connecting', since: Date.now(), attempt: 0 };
  private runPromise: Promise<void> | null = null;
  private readonly abort = new AbortController();
  probe: ProbeResult | null = null;

  constructor(options: FrameSourceOptions) {
    super();
    this.spec =
      options.spec ?? parseInput(options.input, { allowFiles: options.allowFiles, live: options.live, secretParams: options.secretParams });
    const live = this.spec.live;
    this.opts = {
      input: options.input,
      width: options.width,
      height: options.height,
      padValue: options.padValue ?? 114,
      resize: options.resize ?? 'letterbox',
      tiling: options.tiling ?? { cols: 1, rows: 1, overlap: 0 },
      regions: options.regions ?? [],
      regionMaxSide: options.regionMaxSide ?? 960,
      pixelFormat: options.pixelFormat ?? 'bgr24',
      fps: options.fps ?? 2,
      keyframesOnly: options.keyframesOnly ?? false,
      decode: options.decode ?? (options.keyframesOnly ? 'keyframes' : 'full'),
      gopProbeSec: options.gopProbeSec ?? 4.5,
      queueCapacity: options.queueCapacity ?? 4,
      overflow: options.overflow ?? (live ? 'drop-oldest' : 'block'),
      stallTimeoutSec: options.stallTimeoutSec ?? 10,
      connectTimeoutSec: options.connectTimeoutSec ?? 20,
      backoff: { ...DEFAULT_BACKOFF, ...options.backoff },
      maxReconnects: options.maxReconnects ?? Infinity,
      rtspTransport: options.rtspTransport ?? 'tcp',
      realtime: options.realtime ?? false,
    };
    if (!(this.opts.fps > 0 && this.opts.fps <= 60)) throw new SourceError(`fps must be in (0, 60], got ${this.opts.fps}`);
    this.random = options.random ?? Math.random;
    this.recorder = options.recorder ?? null;
    if (this.recorder && !this.recorder.opts.attached)
      throw new SourceError('the recorder given to a frame source must be in attached mode');
    if (this.recorder) this.recorder.killRun = () => this.killChild();
  }

  get state(): SourceState {
    return this.current;
  }

  get stats(): SourceStats {
    return {
      frames: this.frameCount,
      decode: this.decode,
      dropped: this.queue?.dropped ?? 0,
      reconnects: this.reconnects,
      lagRearms: this.lagRearms,
      state: this.current,
    };
  }

  /** Starts reading (idempotent) and returns the frame iterator. Breaking out of the loop stops the source. */
  frames(): AsyncIterableIterator<Frame> {
    this.start();
    const q = this.queue!;
    const it: AsyncIterableIterator<Frame> = {
      next: () => q.next(),
      return: async () => {
        await this.stop();
        return { value: undefined, done: true };
      },
      [Symbol.asyncIterator]: () => it,
    };
    return it;
  }

  /**
   * The newest frame already decoded and waiting, dropping older ones (counted as drops); undefined
   * when none is waiting. A consumer that waited for its analysis turn takes this in place of the
   * frame it was handed, so analysis runs on the freshest picture.
   */
  takeNewest(): Frame | undefined {
    return this.queue?.takeNewest();
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    this.queue = new FrameQueue<Frame>(this.opts.queueCapacity, this.opts.overflow, (full) => {
      if (full) this.child?.stdout.pause();
      else this.child?.stdout.resume();
    });
    this.runPromise = this.run().catch((err: Error) => {
      // run() handles its own errors; this is a last line so nothing becomes an unhandled rejection.
      this.setState('failed', err.message);
      this.queue?.close(err);
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.abort.abort();
    this.wakeSleep?.();
    // While recording, SIGTERM lets ffmpeg close and list the segment being written.
    this.killChild(this.recorder ? 'SIGTERM' : 'SIGKILL');
    this.queue?.close();
    await this.runPromise;
  }

  private setState(state: SourceStateName, reason?: string, retryInMs?: number): void {
    const attempt = this.current.attempt;
    // Last line of defence: every state reason leaves here scrubbed, whatever produced it.
    if (reason !== undefined) reason = scrubSecrets(reason, this.spec);
    this.current = { state, reason, since: Date.now(), attempt, retryInMs };
    this.emit('state', this.current);
  }

  private killChild(signal: 'SIGTERM' | 'SIGKILL' = 'SIGKILL'): void {
    const c = this.child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    c.kill(signal);
    if (signal === 'SIGTERM') setTimeout(() => c.exitCode === null && c.signalCode === null && c.kill('SIGKILL'), 3000).unref();
  }

  private async run(): Promise<void> {
    let attempt = 0;
    while (!this.stopped) {
      this.current = { ...this.current, attempt };
      this.setState('connecting', attempt ? `attempt ${attempt + 1}` : undefined);
      let result: SessionResult;
      try {
        const wantGop = this.opts.decode === 'auto' && this.spec.live;
        this.probe = await probeInput(this.spec, {
          timeoutMs: this.opts.connectTimeoutSec * 1000,
          rtspTransport: this.opts.rtspTransport,
          gopSec: wantGop ? this.opts.gopProbeSec : undefined,
          signal: this.abort.signal,
        });
        this.decode = chooseDecode(this.opts.decode, this.opts.fps, this.spec.live, this.probe.keyframeInterval);
        this.emit('decode', this.decode);
        result = await this.runSession(this.probe, this.decode);
      } catch (err) {
        result = { ok: false, frames: 0, reason: scrubSecrets((err as Error).message, this.spec) };
      }
      if (this.stopped) break;
      if (!this.spec.live) {
        if (result.ok) {
          this.setState('ended', result.reason);
          this.queue!.close();
        } else {
          this.setState('failed', result.reason);
          this.queue!.close(new SourceError(result.reason));
        }
        return;
      }
      attempt = result.frames > 0 ? 1 : attempt + 1;
      if (attempt > this.opts.maxReconnects) {
        this.setState('failed', `giving up after ${attempt - 1} reconnects: ${result.reason}`);
        this.queue!.close(new SourceError(result.reason));
        return;
      }
      const delay = backoffDelay(attempt, this.opts.backoff, this.random);
      this.current = { ...this.current, attempt };
      this.setState('offline', result.reason, delay);
      this.reconnects++;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, delay);
        this.wakeSleep = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.wakeSleep = null;
    }
    this.queue?.close();
  }

  private runSession(probe: ProbeResult, decode: DecodeDecision): Promise<SessionResult> {
    const o = this.opts;
    const lb = computeLetterbox(probe.width, probe.height, o.width, o.height, o.resize);
    const tiles = o.tiling.cols * o.tiling.rows > 1 ? tileGeometry(probe.width, probe.height, o.width, o.height, o.resize, o.tiling) : [];
    const rec = this.recorder?.beginRun('pipe:3') ?? null;
    const regions = o.regions.map((r) => regionGeometry(probe.width, probe.height, r, o.regionMaxSide, o.width));
    const usable = regions.filter((g): g is RegionGeometry => g !== null);
    const args = buildFfmpegArgs(this.spec, lb, { ...o, keyframesOnly: decode.mode === 'keyframes' }, rec?.outputArgs, tiles, usable);
    const pictureBytes = o.width * o.height * 3;
    const tileBytes = pictureBytes * (tiles.length + 1);
    const frameBytes = tileBytes + usable.reduce((a, g) => a + regionRows(g) * o.width * 3, 0);
    const live = this.spec.live;
    return new Promise<SessionResult>((resolveSession) => {
      // fd 3 carries the recorder's segment list when recording.
      const child = spawn('ffmpeg', args, {
        stdio: rec ? ['ignore', 'pipe', 'pipe', 'pipe'] : ['ignore', 'pipe', 'pipe'],
      }) as ChildProcessByStdio<null, Readable, Readable>;
      this.child = child;
      if (rec) rec.attach(child.stdio[3] as Readable);
      const resolve = (r: SessionResult) => {
        if (!rec) return resolveSession(r);
        void rec.end().then(() => resolveSession(r));
      };
      let captureOffset = Infinity;
      let frames = 0;
      let stallReason: string | null = null;
      const errTail: string[] = [];
      const pending: Buffer[] = [];
      const pts: number[] = [];
      let cur = Buffer.allocUnsafe(frameBytes);
      let filled = 0;
      let sessionFirstPts: number | null = null;
      let sessionBase = 0;
      let watchdog: NodeJS.Timeout | null = null;

      // ffmpeg's last sign of progress: bytes of a frame or a frame's info line (a frame of 0.5 MB
      // reaches node in many reads, and ffmpeg waits on the pipe while node is busy).
      let lastProgressAt = Date.now();
      const arm = (sec: number, why: string) => {
        if (!live) return;
        if (watchdog) clearTimeout(watchdog);
        const seen = frames;
        const armedAt = Date.now();
        const dueAt = armedAt + sec * 1000;
        watchdog = setTimeout(() => {
          // After the event loop was held up, expired timers run before the pipe data that arrived
          // meanwhile is read: look at that data first, then judge.
          setImmediate(() => {
            if (frames !== seen || this.child !== child) return;
            // Before the first frame only a frame counts as progress (a connection that sends no
            // picture is not up); after it, any output does.
            const progressAt = frames === 0 ? armedAt : Math.max(armedAt, lastProgressAt);
            const verdict = stallVerdict({ now: Date.now(), dueAt, lastProgressAt: progressAt, timeoutMs: sec * 1000 });
            if (verdict !== 'stalled') {
              // Progress, or node itself was starved (then ffmpeg waited on us): judge a fresh window.
              if (verdict === 'node-lagging') this.lagRearms++;
              arm(sec, why);
              return;
            }
            stallReason = why;
            this.setState('stalled', why);
            this.killChild();
          });
        }, sec * 1000);
      };
      arm(o.connectTimeoutSec, `no frame within ${o.connectTimeoutSec}s of connecting`);

      const emitReady = () => {
        while (pending.length && pts.length) {
          const data = pending.shift()!;
          const p = pts.shift()!;
          const wallTime = Date.now();
          let streamTime: number;
          // Capture time: pts mapped to wall time through the session's least-delayed frame, so
          // queueing and decoding delays show up in frame age (network latency does not).
          captureOffset = Math.min(captureOffset, wallTime - p * 1000);
          const captureWall = live ? Math.round(p * 1000 + captureOffset) : wallTime;
          if (live) {
            if (sessionFirstPts === null) {
              sessionFirstPts = p;
              if (this.liveEpochWall === null) this.liveEpochWall = wallTime;
              sessionBase = (wallTime - this.liveEpochWall) / 1000;
            }
            streamTime = sessionBase + (p - sessionFirstPts);
          } else {
            // ffmpeg (without -copyts) already rebases the input's start time to 0.
            streamTime = Math.max(0, p);
          }
          // Timelines restart on reconnect and some cameras send jittery pts; never go backwards.
          if (streamTime <= this.lastStreamTime) streamTime = this.lastStreamTime + 1e-3;
          this.lastStreamTime = streamTime;
          if (frames === 0) {
            this.current = { ...this.current, attempt: 0 };
            this.setState('online');
          }
          frames++;
          arm(o.stallTimeoutSec, `no frame for ${o.stallTimeoutSec}s`);
          const frame: Frame = {
            data: frameBytes > pictureBytes ? data.subarray(0, pictureBytes) : data,
            pixelFormat: o.pixelFormat,
            letterbox: lb,
            index: this.frameCount++,
            streamTime: round6(streamTime),
            wallTime,
            captureWall,
          };
          if (tiles.length) {
            frame.tiles = tiles.map((t, i) => ({
              data: data.subarray((i + 1) * pictureBytes, (i + 2) * pictureBytes),
              x: t.rect.x,
              y: t.rect.y,
              letterbox: t.letterbox,
            }));
          }
          if (usable.length) {
            // Requested order; a region with no area is left out, so consumers match by rectangle.
            let off = tileBytes;
            frame.regions = [];
            for (const g of usable) {
              frame.regions.push(assembleRegion(data, off, g, o.width, o.pixelFormat));
              off += regionRows(g) * o.width * 3;
            }
          }
          this.queue!.push(frame);
        }
      };

      child.stdout.on('data', (chunk: Buffer) => {
        lastProgressAt = Date.now();
        let off = 0;
        while (off < chunk.length) {
          const n = Math.min(frameBytes - filled, chunk.length - off);
          chunk.copy(cur, filled, off, off + n);
          filled += n;
          off += n;
          if (filled === frameBytes) {
            pending.push(cur);
            cur = Buffer.allocUnsafe(frameBytes);
            filled = 0;
          }
        }
        emitReady();
      });

      let errBuf = '';
      child.stderr.on('data', (d: Buffer) => {
        errBuf += d.toString();
        let nl: number;
        while ((nl = errBuf.indexOf('\n')) >= 0) {
          const line = errBuf.slice(0, nl);
          errBuf = errBuf.slice(nl + 1);
          const m = line.includes('Parsed_showinfo') ? SHOWINFO.exec(line) : null;
          if (m) {
            lastProgressAt = Date.now();
            pts.push(Number(m[3]));
          } else if (line.trim() && !line.startsWith('[Parsed_showinfo')) {
            errTail.push(line.trim());
            if (errTail.length > 12) errTail.shift();
          }
        }
        // A frame can arrive on stdout before its showinfo line; pair them as soon as both are in.
        emitReady();
      });

      child.on('error', (err) => {
        if (watchdog) clearTimeout(watchdog);
        resolve({ ok: false, frames, reason: scrubSecrets(`cannot run ffmpeg: ${err.message}`, this.spec) });
      });
      child.on('close', (code, signal) => {
        if (watchdog) clearTimeout(watchdog);
        this.child = null;
        emitReady();
        const detail = errTail
          .filter((l) => /error|invalid|refused|failed|not found|denied|timed out|unable|no such|403|404|not allowed/i.test(l))
          .slice(-2)
          .join(' | ');
        if (stallReason) resolve({ ok: false, frames, reason: scrubSecrets(stallReason, this.spec) });
        else if (code === 0) resolve({ ok: true, frames, reason: live ? 'stream ended' : 'end of file' });
        else
          resolve({
            ok: false,
            frames,
            reason: scrubSecrets(`ffmpeg exited ${signal ?? code}${detail ? `: ${detail}` : ''} (${this.spec.display})`, this.spec),
          });
      });
    });
  }
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}

function round6(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}
