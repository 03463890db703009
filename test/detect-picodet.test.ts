// PicoDet through the photo path (ffmpeg stretches a still to the model input, RGB, mean/std in
// preprocess) → onnxruntime → GFL decoder → NMS → per-axis mapping back to source pixels.
import { describe, expect, it } from 'vitest';
import { ObjectDetector } from '../pipeline/detect/detector.js';
import { sharedSession } from '../pipeline/detect/session.js';
import { sourceForModel } from '../pipeline/detect/stream.js';
import { iou } from '../pipeline/geometry/geometry.js';
import type { Box, FrameDetections } from '../pipeline/types.js';
import { DOG_JPG, requireFile } from './support/media.js';

/**
 * Hand-drawn boxes of the three objects in the 768x576 photo (source px), looked up on the image:
 * the bicycle runs from its rear wheel (x≈125, behind the dog) to its front wheel (x≈566).
 */
const TRUTH: Record<string, Box> = {
  dog: { x1: 133, y1: 220, x2: 312, y2: 540 },
  car: { x1: 466, y1: 75, x2: 690, y2: 170 },
  bicycle: { x1: 125, y1: 140, x2: 566, y2: 420 },
};

async function detectPhoto(model: string): Promise<FrameDetections> {
  const session = await sharedSession(model, { threads: 2 });
  const detector = new ObjectDetector(session, { scoreThreshold: 0.3, nmsIou: 0.6 });
  for await (const frame of sourceForModel(session.manifest, { input: requireFile(DOG_JPG, 'apt-get install darknet'), fps: 1 }).frames()) {
    expect(frame.letterbox.mode).toBe('stretch');
    expect(frame.pixelFormat).toBe('rgb24');
    return detector.detect(frame);
  }
  throw new Error('no frame from dog.jpg');
}

describe.each(['picodet_s_416_coco', 'picodet_s_320_coco'])('%s on dog.jpg', (model) => {
  it('finds dog, car and bicycle, each with a box of IoU ≥ 0.7 to the hand-drawn one at score > 0.4', async () => {
    const f = await detectPhoto(model);
    expect([f.sourceWidth, f.sourceHeight]).toEqual([768, 576]);
    for (const [label, truth] of Object.entries(TRUTH)) {
      const best = Math.max(0, ...f.detections.filter((x) => x.label === label && x.score > 0.4).map((x) => iou(x.box, truth)));
      expect(
        best,
        `${label} from ${model}: ${JSON.stringify(f.detections.map((x) => [x.label, +x.score.toFixed(2), x.box]))}`,
      ).toBeGreaterThanOrEqual(0.7);
    }
  });
});
