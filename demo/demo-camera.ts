// The demo camera of `npm start` (`citywatch run`): a labelled fixture clip, built from real footage
// by the fixture generator, with its camera config. Kept out of workers/ so the worker process does
// not load the fixture generators; only the embedded single-machine mode calls this.
import { readFile } from 'node:fs/promises';
import type { CameraConfigInput } from '../pipeline/rules/config-schema.js';

export const DEMO_CAMERA_ID = 'demo-kerb';
export const DEMO_FIXTURE = 'illegal_parking_pos';

/** The demo clip and its camera config, built from real footage by the fixture generator. */
export async function demoCamera(): Promise<{ clip: string; config: CameraConfigInput }> {
  const { generateFixtures } = await import('../fixtures/generate.js');
  const [fx] = await generateFixtures({ only: [DEMO_FIXTURE] });
  if (!fx) throw new Error(`fixture ${DEMO_FIXTURE} could not be generated`);
  const config = JSON.parse(await readFile(fx.cameraPath, 'utf8')) as CameraConfigInput;
  config.camera = { ...config.camera, id: DEMO_CAMERA_ID, name: 'Demo kerb lane (fixture replayed as live HLS)' };
  return { clip: fx.clipPath, config };
}
