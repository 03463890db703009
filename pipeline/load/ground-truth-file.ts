// Reads a ground-truth file and the camera config it names from disk, validated by the schema in
// pipeline/eval/ground-truth.ts; errors name the file and the failing field.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { cameraConfigSchema, formatIssues, type CameraConfig } from '../rules/config-schema.js';
import { groundTruthSchema, type GroundTruth } from '../eval/ground-truth.js';

/** A validated truth file with its references resolved. */
export interface LoadedGroundTruth extends GroundTruth {
  /** Absolute path of the truth file. */
  file: string;
  /** Absolute clip path, or the URL unchanged. */
  clipPath: string;
  /** The parsed camera config (inline or loaded from its path). */
  cameraConfig: CameraConfig;
}

export interface LoadOptions {
  /** Resolve a relative `clip` against this folder instead of the truth file's folder. */
  clipDir?: string;
}

const isUrl = (s: string): boolean => /^[a-z][a-z0-9+.-]*:\/\//i.test(s);

export class GroundTruthError extends Error {
  constructor(
    readonly file: string,
    reason: string,
  ) {
    super(`${file}: ${reason}`);
    this.name = 'GroundTruthError';
  }
}

async function readJson(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new GroundTruthError(file, `cannot read: ${(err as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new GroundTruthError(file, `not valid JSON: ${(err as Error).message}`);
  }
}

/** Reads and validates a truth file; the error names the file and the failing field. */
export async function loadGroundTruth(file: string, opts: LoadOptions = {}): Promise<LoadedGroundTruth> {
  const abs = path.resolve(file);
  const parsed = groundTruthSchema.safeParse(await readJson(abs));
  if (!parsed.success) throw new GroundTruthError(abs, formatIssues(parsed.error));
  const gt = parsed.data;
  let cameraConfig: CameraConfig;
  if (typeof gt.camera === 'string') {
    const camFile = path.resolve(path.dirname(abs), gt.camera);
    const raw = await readJson(camFile).catch((err: Error) => {
      throw new GroundTruthError(abs, `camera: ${err.message}`);
    });
    const cam = cameraConfigSchema.safeParse(raw);
    if (!cam.success) throw new GroundTruthError(abs, `camera (${camFile}): ${formatIssues(cam.error)}`);
    cameraConfig = cam.data;
    const check = groundTruthSchema.safeParse({ ...gt, camera: cam.data });
    if (!check.success) throw new GroundTruthError(abs, formatIssues(check.error));
  } else {
    cameraConfig = cameraConfigSchema.parse(gt.camera);
  }
  const clipPath = isUrl(gt.clip) ? gt.clip : path.resolve(opts.clipDir ?? path.dirname(abs), gt.clip);
  return { ...gt, file: abs, clipPath, cameraConfig };
}
