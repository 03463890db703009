// The live debug record (pure builder) and the live JPEG (sharp, on a real photo).
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import type { SubjectDecision } from '../pipeline/rules/engine.js';
import type { FrameDetections, Track } from '../pipeline/types.js';
import { cameraConfigSchema } from '../pipeline/rules/config-schema.js';
import { DOG_JPG, requireFile } from '../test/support/media.js';
import { buildLiveRecord, encodeLiveJpeg, liveSubject } from './live.js';

const config = cameraConfigSchema.parse({
  camera: { id: 'c1' },
  zones: [
    {
      id: 'kerb',
      name: 'kerb lane',
      type: 'no_parking',
      polygon: [
        [0.5, 0],
        [1, 0],
        [1, 0.5],
        [0.5, 0.5],
      ],
    },
  ],
});
const track = (id: number, lastSeen: number, over: Partial<Track> = {}): Track => ({
  id,
  label: 'car',
  box: { x1: 10.04, y1: 20.06, x2: 110.14, y2: 80 },
  score: 0.81234,
  scores: [0.8],
  state: 'confirmed',
  hits: 9,
  firstSeen: 2,
  lastSeen,
  stationary: false,
  ...over,
});
const decision = (over: Partial<SubjectDecision>): SubjectDecision => ({
  subject: 't1',
  trackId: 1,
  label: 'car',
  classId: 'illegal_parking',
  zoneId: 'kerb',
  hit: true,
  phase: 'candidate',
  ...over,
});

describe('live record', () => {
  it('maps decisions to candidate / confirmed / refused with the rule', () => {
    expect(liveSubject(decision({}))).toEqual({
      trackId: 1,
      subject: 't1',
      label: 'car',
      classId: 'illegal_parking',
      zoneId: 'kerb',
      status: 'candidate',
      phase: 'candidate',
    });
    expect(liveSubject(decision({ phase: 'warning' })).status).toBe('candidate');
    expect(liveSubject(decision({ phase: 'confirmed' })).status).toBe('confirmed');
    expect(liveSubject(decision({ phase: 'active' })).status).toBe('confirmed');
    expect(
      liveSubject(decision({ hit: false, phase: null, rule: 'not_stationary', detail: 'the tracker does not see it standing still' })),
    ).toEqual({
      trackId: 1,
      subject: 't1',
      label: 'car',
      classId: 'illegal_parking',
      zoneId: 'kerb',
      status: 'refused',
      phase: null,
      rule: 'not_stationary',
      detail: 'the tracker does not see it standing still',
    });
    expect(
      liveSubject(
        decision({
          subject: 'zone',
          trackId: null,
          memberIds: [3, 4],
          label: 'person',
          classId: 'crowd_gathering',
          hit: false,
          phase: null,
          rule: 'cluster',
          detail: 'largest standing cluster 2 < 6',
        }),
      ),
    ).toMatchObject({ trackId: null, memberIds: [3, 4], status: 'refused', rule: 'cluster' });
  });

  it('holds this frame only: its detections, the tracks seen in it, the zones of the config version', () => {
    const det: FrameDetections = {
      frameIndex: 7,
      streamTime: 12.5,
      wallTime: 1_700_000_000_000,
      sourceWidth: 768,
      sourceHeight: 576,
      detections: [
        {
          label: 'car',
          classId: 2,
          score: 0.81234,
          box: { x1: 10.04, y1: 20.06, x2: 110.14, y2: 80 },
          frameTime: 12.5,
          model: 'yolox_nano',
        },
      ],
    };
    const tracks = [
      track(1, 12.5, { stationary: true, stationarySince: 4.25 }),
      track(2, 11, { state: 'lost' }),
      track(3, 12.5, { state: 'tentative', firstSeen: 12 }),
    ];
    const rec = buildLiveRecord({ id: 'c1', version: 4, config }, det, tracks, [decision({})]);
    expect(rec).toEqual({
      cameraId: 'c1',
      configVersion: 4,
      frameIndex: 7,
      streamTime: 12.5,
      wallTime: 1_700_000_000_000,
      sourceWidth: 768,
      sourceHeight: 576,
      detections: [{ label: 'car', score: 0.812, box: [10, 20.1, 110.1, 80] }],
      tracks: [
        { id: 1, label: 'car', score: 0.812, box: [10, 20.1, 110.1, 80], state: 'confirmed', ageSec: 10.5, stationarySec: 8.25 },
        { id: 3, label: 'car', score: 0.812, box: [10, 20.1, 110.1, 80], state: 'tentative', ageSec: 0.5 },
      ],
      subjects: [
        { trackId: 1, subject: 't1', label: 'car', classId: 'illegal_parking', zoneId: 'kerb', status: 'candidate', phase: 'candidate' },
      ],
      zones: [
        {
          id: 'kerb',
          name: 'kerb lane',
          type: 'no_parking',
          polygon: [
            [0.5, 0],
            [1, 0],
            [1, 0.5],
            [0.5, 0.5],
          ],
        },
      ],
    });
  });

  it('encodes the picture as JPEG at the source aspect, at most maxWidth wide', async () => {
    const { data, info } = await sharp(requireFile(DOG_JPG, 'apt-get install darknet'))
      .removeAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true });
    // As BGR, as a stretched model input would hand it over (768x576 photo squeezed to 416x416).
    const bgr = Buffer.from(data);
    for (let i = 0; i < bgr.length; i += 3) [bgr[i], bgr[i + 2]] = [data[i + 2]!, data[i]!];
    const squeezed = await sharp(data, { raw: { width: info.width, height: info.height, channels: 3 } })
      .resize(416, 416, { fit: 'fill' })
      .raw()
      .toBuffer();
    const a = await encodeLiveJpeg({ raw: squeezed, width: 416, height: 416, pixelFormat: 'rgb24', aspect: 768 / 576 }, 960, 70);
    expect([a.width, a.height]).toEqual([416, 312]);
    expect(await sharp(a.jpeg).metadata()).toMatchObject({ format: 'jpeg', width: 416, height: 312 });
    const b = await encodeLiveJpeg(
      { raw: bgr, width: info.width, height: info.height, pixelFormat: 'bgr24', aspect: info.width / info.height },
      320,
      70,
    );
    expect([b.width, b.height]).toEqual([320, 240]);
    // BGR was swapped back: the picture's mean colour matches the RGB original's.
    const [orig, enc] = await Promise.all([
      sharp(data, { raw: { width: info.width, height: info.height, channels: 3 } }).stats(),
      sharp(b.jpeg).stats(),
    ]);
    for (const c of [0, 1, 2]) expect(Math.abs(enc.channels[c]!.mean - orig.channels[c]!.mean)).toBeLessThan(3);
    expect(b.encodeMs).toBeGreaterThan(0);
  });
});
