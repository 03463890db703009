/**
 * Bounded hand-off between the ffmpeg reader and the consumer. Live cameras use drop-oldest (the
 * newest picture matters; drops are counted); files use block (pause the pipe so ffmpeg waits and
 * a replay analyses every frame). Either way memory is capped at `capacity` frames.
 */
export type OverflowPolicy = 'drop-oldest' | 'block';

export class FrameQueue<T> {
  private readonly items: T[] = [];
  private waiter: { resolve: (r: IteratorResult<T>) => void; reject: (e: Error) => void } | null = null;
  private closed = false;
  private failure: Error | null = null;
  dropped = 0;

  constructor(
    readonly capacity: number,
    readonly policy: OverflowPolicy,
    /** Called with true when a blocking queue fills and false when it has room again. */
    private readonly onPressure: (full: boolean) => void = () => undefined,
  ) {
    if (!(capacity >= 1)) throw new Error('queue capacity must be >= 1');
  }

  get size(): number {
    return this.items.length;
  }

  push(item: T): void {
    if (this.closed) return;
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = null;
      w.resolve({ value: item, done: false });
      return;
    }
    if (this.items.length >= this.capacity && this.policy === 'drop-oldest') {
      this.items.shift();
      this.dropped++;
    }
    this.items.push(item);
    if (this.policy === 'block' && this.items.length >= this.capacity) this.onPressure(true);
  }

  /** No more items; pending ones are still delivered. An error is thrown to the consumer after them. */
  close(error?: Error): void {
    if (this.closed) return;
    this.closed = true;
    this.failure = error ?? null;
    if (this.waiter && this.items.length === 0) {
      const w = this.waiter;
      this.waiter = null;
      if (this.failure) w.reject(this.failure);
      else w.resolve({ value: undefined, done: true });
    }
  }

  /**
   * The newest queued item, dropping (and counting) the older ones; undefined when empty. A live
   * consumer that waited for its analysis turn takes this instead of the oldest, so what it analyses
   * is as fresh as the stream allows.
   */
  takeNewest(): T | undefined {
    if (this.items.length === 0) return undefined;
    const wasFull = this.items.length >= this.capacity;
    const newest = this.items.pop()!;
    this.dropped += this.items.length;
    this.items.length = 0;
    if (this.policy === 'block' && wasFull) this.onPressure(false);
    return newest;
  }

  next(): Promise<IteratorResult<T>> {
    if (this.items.length > 0) {
      const value = this.items.shift()!;
      if (this.policy === 'block' && this.items.length === this.capacity - 1) this.onPressure(false);
      return Promise.resolve({ value, done: false });
    }
    if (this.closed) return this.failure ? Promise.reject(this.failure) : Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
  }
}
