import { describe, expect, it } from 'vitest';
import { BoxKalman } from './kalman.js';

const noise = { measurement: 0.05, acceleration: 0.5, initialVelocity: 2 };
const rect = (x: number, y: number, w: number, h: number) => ({ x1: x, y1: y, x2: x + w, y2: y + h });

describe('BoxKalman', () => {
  it('starts at the measurement with zero velocity', () => {
    const kf = new BoxKalman(rect(10, 20, 40, 80), noise);
    expect(kf.box()).toEqual(rect(10, 20, 40, 80));
    expect(kf.velocity()).toEqual([0, 0]);
    kf.predict(1);
    expect(kf.box()).toEqual(rect(10, 20, 40, 80));
  });

  it('learns a constant velocity independent of the frame interval', () => {
    for (const dt of [0.1, 0.5, 1]) {
      const kf = new BoxKalman(rect(0, 100, 40, 80), noise);
      for (let k = 1; k <= 6; k++) {
        kf.predict(dt);
        kf.update(rect(30 * k * dt, 100 - 10 * k * dt, 40, 80)); // 30 px/s right, 10 px/s up
      }
      const [vx, vy] = kf.velocity();
      expect(vx).toBeCloseTo(30, 0);
      expect(vy).toBeCloseTo(-10, 0);
      kf.predict(2);
      const b = kf.box();
      expect(b.x1).toBeCloseTo(30 * (6 * dt + 2), 0);
      expect(b.x2 - b.x1).toBeCloseTo(40, 6);
    }
  });

  it('freezes size while coasting and never collapses the box', () => {
    const kf = new BoxKalman(rect(0, 0, 40, 40), noise);
    kf.predict(0.5);
    kf.update(rect(0, 0, 30, 30));
    kf.predict(0.5);
    kf.update(rect(0, 0, 20, 20));
    kf.freezeSize();
    const before = kf.box();
    kf.predict(5);
    const after = kf.box();
    expect(after.x2 - after.x1).toBeCloseTo(before.x2 - before.x1, 9);
    const shrinking = new BoxKalman(rect(0, 0, 40, 40), noise);
    shrinking.predict(0.5);
    shrinking.update(rect(0, 0, 20, 20));
    shrinking.predict(100);
    expect(shrinking.box().x2 - shrinking.box().x1).toBeGreaterThanOrEqual(1);
  });
});
