import { describe, expect, it } from 'vitest';
import { Semaphore } from '../pipeline/detect/session.js';
import { FrameQueue } from '../pipeline/source/frame-queue.js';
import { analyseInTurn } from './analysis-turns.js';

const tick = () => new Promise<void>((r) => setImmediate(r));

describe('analysis turns', () => {
  it('go round the cameras in order when all of them always have a frame', async () => {
    const turns = new Semaphore(1);
    const order: string[] = [];
    const camera = async (id: string) => {
      for (let i = 0; i < 3; i++) {
        await analyseInTurn(
          turns,
          `${id}${i}`,
          () => undefined,
          async (f) => {
            order.push(f);
            await tick();
          },
        );
      }
    };
    await Promise.all(['a', 'b', 'c'].map(camera));
    expect(order).toEqual(['a0', 'b0', 'c0', 'a1', 'b1', 'c1', 'a2', 'b2', 'c2']);
  });

  it('analyse the newest frame decoded while the camera waited, and count the skipped ones', async () => {
    const turns = new Semaphore(1);
    const q = new FrameQueue<number>(2, 'drop-oldest');
    const analysed: number[] = [];
    let release!: () => void;
    // Another camera holds the only turn.
    const busy = turns.run(() => new Promise<void>((r) => (release = r)));
    const handed = 1;
    const mine = analyseInTurn(
      turns,
      handed,
      () => q.takeNewest(),
      async (f) => void analysed.push(f),
    );
    q.push(2);
    q.push(3);
    q.push(4);
    release();
    await busy;
    await mine;
    expect(analysed).toEqual([4]);
    // 2 fell out of the full queue when 4 came, 3 was passed over for 4.
    expect(q.dropped).toBe(2);
    expect(q.size).toBe(0);
  });

  it('analyse the frame handed when nothing newer came', async () => {
    const turns = new Semaphore(2);
    const q = new FrameQueue<number>(2, 'drop-oldest');
    const analysed: number[] = [];
    await analyseInTurn(
      turns,
      7,
      () => q.takeNewest(),
      async (f) => void analysed.push(f),
    );
    expect(analysed).toEqual([7]);
    expect(q.dropped).toBe(0);
  });
});
