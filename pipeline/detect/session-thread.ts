// An onnxruntime session on its own worker thread. onnxruntime-node's run() is synchronous on the
// calling thread (its promise only defers the call with setImmediate), so in a worker process every
// inference held node's event loop for its whole wall time: 30 ms on an idle core, far more on a
// starved one. Meanwhile no ffmpeg pipe was read, ffmpeg blocked on its writes, frames and ring
// segments fell behind, and the stall watchdogs restarted cameras that were fine. On this thread the
// event loop stays free; tensors cross by transfer (no copy).
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
      const transfer = [];
      for (const key of m.outputs) {
        const t = results[key];
        if (!t) throw new Error('no output "' + key + '"');
        const data = new Float32Array(t.data);
        outputs[key] = { data, dims: Array.from(t.dims) };
        transfer.push(data.buffer);
      }
      parentPort.postMessage({ id: m.id, outputs }, transfer);
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
    const copy = new Float32Array(data);
    const r = await this.call({ type: 'run', name, data: copy, dims, outputs: [...outputs] }, [copy.buffer]);
    return r.outputs!;
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
