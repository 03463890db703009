// An onnxruntime session on its own worker thread. onnxruntime-node's run() is synchronous on the
// calling thread (its promise only defers the call with setImmediate), so in a worker process every
// inference held node's event loop for its whole wall time: 30 ms on an idle core, far more on a
// starved one. Meanwhile no ffmpeg pipe was read, ffmpeg blocked on its writes, frames and ring
// segments fell behind, and the stall watchdogs restarted cameras that were fine. On this thread the
// event loop stays free; tensors cross by transfer (no copy), and input buffers come back for reuse.
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type { RawOutput } from './decoders/types.js';

// Plain CommonJS evaluated in the thread, so it runs the same under tsx, vitest and a build.
const THREAD_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const ort = require(workerData.ortPath);
let session = null;
parentPort.on('message', async (m) => {
  try {
    if (m.type === 'open') {
      session = await ort.InferenceSession.create(workerData.file, workerData.options);
      parentPort.postMessage({ id: m.id, inputNames: session.inputNames });
    } else if (m.type === 'run') {
      const feeds = { [m.name]: new ort.Tensor('float32', m.data, m.dims) };
      const results = await session.run(feeds);
      const outputs = {};
      // The input buffer goes back to the caller's pool with the outputs (no allocation per run).
      const transfer = [m.data.buffer];
      for (const key of m.outputs) {
        const t = results[key];
        if (!t) throw new Error('no output "' + key + '"');
        // An output that owns its whole buffer crosses as it is; a view into a larger one is copied.
        const own = t.data.byteOffset === 0 && t.data.byteLength === t.data.buffer.byteLength && !transfer.includes(t.data.buffer);
        const data = own ? t.data : new Float32Array(t.data);
        outputs[key] = { data, dims: Array.from(t.dims) };
        transfer.push(data.buffer);
      }
      try {
        parentPort.postMessage({ id: m.id, outputs, input: m.data }, transfer);
      } catch {
        // A buffer that cannot be transferred (native memory) is cloned instead.
        parentPort.postMessage({ id: m.id, outputs, input: m.data });
      }
    } else if (m.type === 'close') {
      if (session) await session.release();
      parentPort.postMessage({ id: m.id });
    }
  } catch (err) {
    parentPort.postMessage({ id: m.id, error: String((err && err.message) || err) });
  }
});
`;

interface Reply {
  id: number;
  error?: string;
  inputNames?: string[];
  outputs?: Record<string, RawOutput>;
  input?: Float32Array;
}

export class OrtThread {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (r: Reply) => void; reject: (e: Error) => void }>();
  inputNames: readonly string[] = [];

  private constructor(private readonly worker: Worker) {
    worker.on('message', (r: Reply) => {
      const p = this.pending.get(r.id);
      if (!p) return;
      this.pending.delete(r.id);
      if (r.error !== undefined) p.reject(new Error(r.error));
      else p.resolve(r);
    });
    worker.on('error', (err) => this.failAll(err));
    worker.on('exit', (code) => this.failAll(new Error(`inference thread exited (${code})`)));
    // An idle inference thread must not keep a CLI or test process alive.
    worker.unref();
  }

  /** Starts the thread and opens `file` there with these (structured-cloneable) session options. */
  static async open(file: string, options: Record<string, unknown>): Promise<OrtThread> {
    const ortPath = createRequire(import.meta.url).resolve('onnxruntime-node');
    const t = new OrtThread(new Worker(THREAD_SOURCE, { eval: true, workerData: { ortPath, file, options } }));
    const r = await t.call({ type: 'open' });
    t.inputNames = r.inputNames ?? [];
    return t;
  }

  /**
   * One run. `data` is copied into a buffer handed to the thread, so the caller may reuse its array.
   */
  async run(name: string, data: Float32Array, dims: number[], outputs: readonly string[]): Promise<Record<string, RawOutput>> {
    return (await this.runTransfer(name, new Float32Array(data), dims, outputs)).outputs;
  }

  /**
   * One run that hands `data` itself to the thread (it is detached here meanwhile) and gets it back
   * with the outputs as `input`, so a caller can keep a pool of input buffers instead of allocating
   * (and collecting) megabytes per frame.
   */
  async runTransfer(
    name: string,
    data: Float32Array,
    dims: number[],
    outputs: readonly string[],
  ): Promise<{ outputs: Record<string, RawOutput>; input: Float32Array }> {
    const r = await this.call({ type: 'run', name, data, dims, outputs: [...outputs] }, [data.buffer as ArrayBuffer]);
    return { outputs: r.outputs!, input: r.input! };
  }

  async close(): Promise<void> {
    await this.call({ type: 'close' }).catch(() => undefined);
    await this.worker.terminate();
  }

  private call(msg: Record<string, unknown>, transfer: ArrayBuffer[] = []): Promise<Reply> {
    const id = this.nextId++;
    return new Promise<Reply>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      // Keep the process alive while a run is in flight (the thread is unref'd when idle).
      this.worker.ref();
      this.worker.postMessage({ ...msg, id }, transfer);
    }).finally(() => {
      if (this.pending.size === 0) this.worker.unref();
    });
  }

  private failAll(err: Error): void {
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }
}
