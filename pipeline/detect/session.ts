// One onnxruntime session per model, shared by every stream in the process. ORT already spreads a
// single run over intra-op threads, so concurrent runs mostly fight for the same cores; a small
// semaphore bounds them and keeps latency predictable.
import ort from 'onnxruntime-node';
import { loadManifest, type ModelManifest } from '../../models/manifest.js';
import { resolveModelFile } from '../../models/resolve.js';
import type { Frame } from '../types.js';
import type { RawOutput } from './decoders/types.js';
import { frameToTensorData } from './preprocess.js';
import { OrtThread } from './session-thread.js';

export interface SessionOptions {
  /** Intra-op threads per run (default: all cores, at most 4). */
  threads?: number;
  /** Runs allowed at once on this session (default 1). */
  maxConcurrent?: number;
  /** Let idle ORT threads spin (default false; see open()). */
  spin?: boolean;
  /**
   * Run inference on a worker thread (session-thread.ts) so node's event loop is not held for the
   * run's wall time. Workers set it; one-shot CLI runs do not need it. Default false.
   */
  offThread?: boolean;
}

/**
 * What actually runs the model: in this thread or on an inference thread. It may take `data` over
 * for the run; `input` is the buffer to reuse afterwards (the same array, or one handed back).
 */
type Runner = (
  name: string,
  data: Float32Array,
  dims: number[],
  outputs: readonly string[],
) => Promise<{ outputs: Record<string, RawOutput>; input: Float32Array }>;

/** Input buffers kept for reuse per session: enough for the runs in flight and one being filled. */
const POOL_MAX = 4;

export class Semaphore {
  private active = 0;
  private readonly waiters: Array<() => void> = [];
  constructor(private readonly limit: number) {
    if (!(limit >= 1)) throw new Error(`semaphore limit must be >= 1, got ${limit}`);
  }
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) await new Promise<void>((r) => this.waiters.push(r));
    this.active++;
    try {
      return await fn();
    } finally {
      this.active--;
      this.waiters.shift()?.();
    }
  }
  get pending(): number {
    return this.waiters.length;
  }
}

export class ModelSession {
  private readonly pool: Float32Array[] = [];

  private constructor(
    readonly manifest: ModelManifest,
    readonly file: string,
    private readonly runner: Runner,
    private readonly release: () => Promise<void>,
    private readonly gate: Semaphore,
    /** True when runs happen on an inference thread. */
    readonly offThread: boolean,
  ) {}

  static async open(manifest: ModelManifest, opts: SessionOptions = {}): Promise<ModelSession> {
    const file = await resolveModelFile(manifest);
    const { availableParallelism } = await import('node:os');
    const threads = opts.threads ?? Math.min(4, availableParallelism());
    const options = {
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
      // Some exports (PicoDet's Paddle converter) list initializers as graph inputs; ORT then prints
      // hundreds of harmless warnings per session. Errors still surface.
      logSeverityLevel: 3,
      // Idle ORT threads spin by default, taking the core that ffmpeg needs to decode the next
      // frame; on a small CPU shared with decoding, blocking waits give more frames end to end.
      extra: { session: { intra_op: { allow_spinning: opts.spin ? '1' : '0' } } },
    } as const;
    const gate = new Semaphore(opts.maxConcurrent ?? 1);
    if (opts.offThread) {
      const t = await OrtThread.open(file, options);
      if (!t.inputNames.includes(manifest.input.name)) {
        await t.close();
        throw new Error(`model ${file} has inputs ${t.inputNames.join(', ')}, manifest expects "${manifest.input.name}"`);
      }
      return new ModelSession(
        manifest,
        file,
        (n, d, dims, o) => t.runTransfer(n, d, dims, o),
        () => t.close(),
        gate,
        true,
      );
    }
    const session = await ort.InferenceSession.create(file, options);
    if (!session.inputNames.includes(manifest.input.name)) {
      throw new Error(`model ${file} has inputs ${session.inputNames.join(', ')}, manifest expects "${manifest.input.name}"`);
    }
    const runner: Runner = async (name, data, dims, outputs) => {
      const results = await session.run({ [name]: new ort.Tensor('float32', data, dims) });
      const out: Record<string, RawOutput> = {};
      for (const key of outputs) {
        const t = results[key];
        if (!t) throw new Error(`no output "${key}"`);
        out[key] = { data: t.data as Float32Array, dims: t.dims };
      }
      return { outputs: out, input: data };
    };
    return new ModelSession(manifest, file, runner, () => session.release(), gate, false);
  }

  /** Runs the model on one prepared input tensor (batch 1); the caller keeps `input` as it is. */
  async run(input: Float32Array): Promise<Record<string, RawOutput>> {
    return (await this.runOwned(this.offThread ? new Float32Array(input) : input)).outputs;
  }

  /**
   * Runs the model on a frame prepared into a pooled input buffer: no 2 MB tensor is allocated (and
   * later collected) per frame. Outputs are identical to run(frameToTensorData(frame, manifest)).
   */
  async runFrame(frame: Frame): Promise<Record<string, RawOutput>> {
    const { width, height } = this.manifest.input;
    const buf = this.pool.pop() ?? new Float32Array(width * height * 3);
    let input: Float32Array | null = null;
    try {
      frameToTensorData(frame, this.manifest, buf);
      const r = await this.runOwned(buf);
      input = r.input;
      return r.outputs;
    } finally {
      // After a failure the buffer may be detached (it went to the thread): then it is not reused.
      const back = input ?? (buf.byteLength > 0 ? buf : null);
      if (back && back.length === width * height * 3 && this.pool.length < POOL_MAX) this.pool.push(back);
    }
  }

  /** One run that may take `input` over for its duration (see Runner). */
  private async runOwned(input: Float32Array): Promise<{ outputs: Record<string, RawOutput>; input: Float32Array }> {
    const { width, height, layout, name } = this.manifest.input;
    const dims = layout === 'NCHW' ? [1, 3, height, width] : [1, height, width, 3];
    return this.gate.run(async () => {
      try {
        return await this.runner(name, input, dims, this.manifest.outputs);
      } catch (err) {
        const m = /^no output "(.*)"$/.exec((err as Error).message);
        if (m) throw new Error(`model ${this.manifest.name} produced no output "${m[1]}"`, { cause: err });
        throw err;
      }
    });
  }

  get queued(): number {
    return this.gate.pending;
  }

  async close(): Promise<void> {
    await this.release();
  }
}

const shared = new Map<string, Promise<ModelSession>>();

/**
 * The process-wide session for a model name and thread placement; created on first use. Keyed by
 * both, so a caller asking for an off-thread session never gets one that runs on the event loop
 * because another caller opened the model first.
 */
export function sharedSession(model: string, opts: SessionOptions = {}): Promise<ModelSession> {
  const key = `${model}|${opts.offThread ? 'thread' : 'loop'}`;
  let s = shared.get(key);
  if (!s) {
    s = loadManifest(model).then((m) => ModelSession.open(m, opts));
    shared.set(key, s);
    // A failed open must not poison later attempts (e.g. after the weights were fetched).
    s.catch(() => shared.delete(key));
  }
  return s;
}
