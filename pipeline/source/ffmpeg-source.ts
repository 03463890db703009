// Frames from any camera or file through one ffmpeg child: decode, pick frames at the analysis fps,
// letterbox to the model input and hand out packed pixels. Resizing happens inside ffmpeg so the
// JS hot path only copies bytes.
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { EventEmitter } from 'node:events';
import type { Readable } from 'node:stream';
import type { Frame, Letterbox, PixelFormat } from '../types.js';
import { FrameQueue, type OverflowPolicy } from './frame-queue.js';
import { inputGuardArgs, parseInput, scrubSecrets, type InputSpec, type ParseInputOptions } from './input-url.js';
import { computeLetterbox, letterboxFilter } from './letterbox.js';
import { probeInput, type ProbeResult } from './probe.js';

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

export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
  factor: number;
  /** ± fraction of random spread so many cameras do not reconnect in lockstep. */
  jitter: number;
}

export interface FrameSourceOptions extends ParseInputOptions {
  input: string;
  /** Model input size and pad; frames come out letterboxed to this. */
  width: number;
  height: number;
  padValue?: number;
  pixelFormat?: PixelFormat;
  /** Analysed frames per second (ignored with keyframesOnly, which passes every keyframe). */
  fps?: number;
  keyframesOnly?: boolean;
  queueCapacity?: number;
  overflow?: OverflowPolicy;
  /** Live only: no frame for this long → stalled → reconnect. */
  stallTimeoutSec?: number;
  /** Live only: how long a (re)connection may take to produce its first frame. */
  connectTimeoutSec?: number;
  backoff?: Partial<BackoffOptions>;
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
  dropped: number;
  reconnects: number;
  state: SourceState;
}

export class SourceError extends Error {}

const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 1000, maxMs: 30_000, factor: 2, jitter: 0.2 };

/** Delay before attempt n (1-based), exponential with jitter and a ceiling. */
export function backoffDelay(attempt: number, opts: BackoffOptions, random: () => number = Math.random): number {
  const base = Math.min(opts.maxMs, opts.initialMs * opts.factor ** Math.max(0, attempt - 1));
  const spread = base * opts.jitter * (random() * 2 - 1);
  return Math.max(0, Math.round(Math.min(opts.maxMs, base + spread)));
}

const STILL_IMAGE = /\.(jpe?g|png|bmp|webp|tiff?)$/i;

function isStillImage(spec: InputSpec): boolean {
  return spec.kind === 'file' && STILL_IMAGE.test(spec.ffmpegInput);
}

const SHOWINFO = /\bn:\s*(\d+)\s+pts:\s*(-?\d+)\s+pts_time:\s*(-?[0-9.eE+-]+)/;

/** The ffmpeg argument list for one session (pure; exported for tests and for reading). */
export function buildFfmpegArgs(spec: InputSpec, lb: Letterbox, o: Required<Pick<FrameSourceOptions, 'fps' | 'keyframesOnly' | 'padValue' | 'pixelFormat' | 'rtspTransport' | 'realtime' | 'stallTimeoutSec'>>): string[] {
  const args = ['-hide_banner', '-nostdin', '-nostats', '-loglevel', 'info', ...inputGuardArgs(spec)];
  if (spec.kind === 'rtsp' || spec.kind === 'rtsps') {
    args.push('-rtsp_transport', o.rtspTransport, '-timeout', String(Math.round(o.stallTimeoutSec * 1e6)));
  }
  if (spec.kind === 'hls') args.push('-f', 'hls', '-rw_timeout', String(Math.round(o.stallTimeoutSec * 1e6)));
  if (o.keyframesOnly) args.push('-skip_frame', 'nokey');
  if (o.realtime && spec.kind === 'file') args.push('-re');
  args.push('-i', spec.ffmpegInput, '-map', '0:v:0', '-an', '-sn', '-dn');
  const filters = [];
  // ffmpeg's fps filter drops a lone frame that has no duration, so a photo gave zero frames.
  if (!o.keyframesOnly) filters.push(isStillImage(spec) ? `fps=${o.fps}:eof_action=pass` : `fps=${o.fps}`);
  filters.push('showinfo=checksum=0', letterboxFilter(lb, o.padValue), `format=${o.pixelFormat}`);
  args.push('-vf', filters.join(','));
  if (o.keyframesOnly) args.push('-fps_mode', 'passthrough');
  args.push('-pix_fmt', o.pixelFormat, '-f', 'rawvideo', 'pipe:1');
  return args;
}

interface SessionResult {
  ok: boolean;
  frames: number;
  reason: string;
}

export class FrameSource extends EventEmitter {
  readonly spec: InputSpec;
  private readonly opts: Required<Omit<FrameSourceOptions, keyof ParseInputOptions | 'backoff' | 'maxReconnects' | 'overflow' | 'random' | 'spec'>> & {
    backoff: BackoffOptions;
    maxReconnects: number;
    overflow: OverflowPolicy;
  };
  private readonly random: () => number;
  private queue: FrameQueue<Frame> | null = null;
  private child: ChildProcessByStdio<null, Readable, Readable> | null = null;
  private stopped = false;
  private started = false;
  private wakeSleep: (() => void) | null = null;
  private frameCount = 0;
  private reconnects = 0;
  private lastStreamTime = -Infinity;
  private liveEpochWall: number | null = null;
  private current: SourceState = { state: 'connecting', since: Date.now(), attempt: 0 };
  private runPromise: Promise<void> | null = null;
  probe: ProbeResult | null = null;

  constructor(options: FrameSourceOptions) {
    super();
    this.spec = options.spec ?? parseInput(options.input, { allowFiles: options.allowFiles, live: options.live, secretParams: options.secretParams });
    const live = this.spec.live;
    this.opts = {
      input: options.input,
      width: options.width,
      height: options.height,
      padValue: options.padValue ?? 114,
      pixelFormat: options.pixelFormat ?? 'bgr24',
      fps: options.fps ?? 2,
      keyframesOnly: options.keyframesOnly ?? false,
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
  }

  get state(): SourceState {
    return this.current;
  }

  get stats(): SourceStats {
    return { frames: this.frameCount, dropped: this.queue?.dropped ?? 0, reconnects: this.reconnects, state: this.current };
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
    this.wakeSleep?.();
    this.killChild();
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

  private killChild(): void {
    const c = this.child;
    if (c && c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  }

  private async run(): Promise<void> {
    let attempt = 0;
    while (!this.stopped) {
      this.current = { ...this.current, attempt };
      this.setState('connecting', attempt ? `attempt ${attempt + 1}` : undefined);
      let result: SessionResult;
      try {
        this.probe = await probeInput(this.spec, {
          timeoutMs: this.opts.connectTimeoutSec * 1000,
          rtspTransport: this.opts.rtspTransport,
        });
        result = await this.runSession(this.probe);
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

  private runSession(probe: ProbeResult): Promise<SessionResult> {
    const o = this.opts;
    const lb = computeLetterbox(probe.width, probe.height, o.width, o.height);
    const args = buildFfmpegArgs(this.spec, lb, o);
    const frameBytes = o.width * o.height * 3;
    const live = this.spec.live;
    return new Promise<SessionResult>((resolve) => {
      const child = spawn('ffmpeg', args, { stdio: ['ignore', 'pipe', 'pipe'] });
      this.child = child;
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

      const arm = (sec: number, why: string) => {
        if (!live) return;
        if (watchdog) clearTimeout(watchdog);
        watchdog = setTimeout(() => {
          stallReason = why;
          this.setState('stalled', why);
          this.killChild();
        }, sec * 1000);
      };
      arm(o.connectTimeoutSec, `no frame within ${o.connectTimeoutSec}s of connecting`);

      const emitReady = () => {
        while (pending.length && pts.length) {
          const data = pending.shift()!;
          const p = pts.shift()!;
          const wallTime = Date.now();
          let streamTime: number;
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
          this.queue!.push({ data, pixelFormat: o.pixelFormat, letterbox: lb, index: this.frameCount++, streamTime: round6(streamTime), wallTime });
        }
      };

      child.stdout.on('data', (chunk: Buffer) => {
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
        const detail = errTail.filter((l) => /error|invalid|refused|failed|not found|denied|timed out|unable|no such|403|404|not allowed/i.test(l)).slice(-2).join(' | ');
        if (stallReason) resolve({ ok: false, frames, reason: scrubSecrets(stallReason, this.spec) });
        else if (code === 0) resolve({ ok: true, frames, reason: live ? 'stream ended' : 'end of file' });
        else resolve({ ok: false, frames, reason: scrubSecrets(`ffmpeg exited ${signal ?? code}${detail ? `: ${detail}` : ''} (${this.spec.display})`, this.spec) });
      });
    });
  }
}

function round6(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}
