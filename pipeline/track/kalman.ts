// Constant-velocity Kalman filter for a box, in stream seconds rather than frames because the
// analysed frame rate varies (fps setting, keyframe-only decoding, dropped frames on reconnect).
// Centre x, centre y, width and height are filtered independently: with ByteTrack's diagonal noise
// model the 8-state filter is block-diagonal, so four 2-state filters are the same filter.
import type { Box } from '../types.js';

export interface KalmanNoise {
  /** Measurement noise std as a fraction of the box's mean side (detector jitter). */
  measurement: number;
  /** Process noise: std of acceleration in mean sides per s² (how fast motion may change). */
  acceleration: number;
  /** Initial velocity std in mean sides per s (a new track's speed is unknown). */
  initialVelocity: number;
}

interface Axis {
  x: number;
  v: number;
  pp: number;
  pv: number;
  vv: number;
}

export class BoxKalman {
  private readonly axes: [Axis, Axis, Axis, Axis];

  constructor(
    box: Box,
    private readonly noise: KalmanNoise,
  ) {
    const s = meanSide(box);
    const pos = (2 * noise.measurement * s) ** 2;
    const vel = (noise.initialVelocity * s) ** 2;
    const z = measure(box);
    this.axes = z.map((x) => ({ x, v: 0, pp: pos, pv: 0, vv: vel })) as [Axis, Axis, Axis, Axis];
  }

  predict(dt: number): void {
    if (dt <= 0) return;
    const s = this.meanSide();
    const q = (this.noise.acceleration * s) ** 2;
    for (const a of this.axes) {
      a.x += a.v * dt;
      const pp = a.pp + 2 * dt * a.pv + dt * dt * a.vv + (q * dt ** 3) / 3;
      const pv = a.pv + dt * a.vv + (q * dt * dt) / 2;
      a.pp = pp;
      a.pv = pv;
      a.vv += q * dt;
    }
    // A box cannot shrink below a pixel however the size velocity extrapolates.
    this.axes[2].x = Math.max(1, this.axes[2].x);
    this.axes[3].x = Math.max(1, this.axes[3].x);
  }

  update(box: Box): void {
    const r = (this.noise.measurement * meanSide(box)) ** 2;
    const z = measure(box);
    this.axes.forEach((a, i) => {
      const s = a.pp + r;
      const kp = a.pp / s;
      const kv = a.pv / s;
      const y = z[i]! - a.x;
      a.x += kp * y;
      a.v += kv * y;
      const pp = (1 - kp) * a.pp;
      const pv = (1 - kp) * a.pv;
      a.vv -= kv * a.pv;
      a.pp = pp;
      a.pv = pv;
    });
  }

  /** While nothing is observed, keep moving the box but stop growing or shrinking it. */
  freezeSize(): void {
    this.axes[2].v = 0;
    this.axes[3].v = 0;
  }

  box(): Box {
    const [cx, cy, w, h] = this.axes.map((a) => a.x) as [number, number, number, number];
    return { x1: cx - w / 2, y1: cy - h / 2, x2: cx + w / 2, y2: cy + h / 2 };
  }

  /** Centre velocity in pixels per second. */
  velocity(): [number, number] {
    return [this.axes[0].v, this.axes[1].v];
  }

  private meanSide(): number {
    return Math.max(1, (this.axes[2].x + this.axes[3].x) / 2);
  }
}

function measure(b: Box): [number, number, number, number] {
  return [(b.x1 + b.x2) / 2, (b.y1 + b.y2) / 2, b.x2 - b.x1, b.y2 - b.y1];
}

function meanSide(b: Box): number {
  return Math.max(1, (b.x2 - b.x1 + (b.y2 - b.y1)) / 2);
}
