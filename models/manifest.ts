// Model manifests are data (models/*.json); this module validates and loads them so a wrong
// manifest fails at start-up with the file and field named, not as garbage boxes later.
import { readFile, readdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { z } from 'zod';

export const MANIFEST_DIR = path.dirname(fileURLToPath(import.meta.url));

export const DECODER_KINDS = ['yolox', 'picodet', 'yolov8', 'ssd'] as const;

export const modelManifestSchema = z
  .object({
    name: z.string().regex(/^[a-z0-9_.-]+$/),
    description: z.string().optional(),
    license: z.string(),
    file: z.string().regex(/^[^/\\]+\.onnx$/, 'file must be a bare .onnx file name'),
    sha256: z.string().regex(/^[0-9a-f]{64}$/),
    bytes: z.number().int().positive().optional(),
    /**
     * Official download URL. Absent when no official file with this sha256 exists (e.g. a
     * third-party export): the weights are then resolved from MODEL_DIR or ../shared/models only.
     */
    url: z.string().url().optional(),
    input: z
      .object({
        name: z.string(),
        width: z.number().int().positive(),
        height: z.number().int().positive(),
        layout: z.enum(['NCHW', 'NHWC']),
        colorOrder: z.enum(['bgr', 'rgb']),
        /** pixel' = (pixel * scale - mean) / std, per channel in colorOrder. */
        scale: z.number().positive(),
        mean: z.tuple([z.number(), z.number(), z.number()]),
        std: z.tuple([z.number().positive(), z.number().positive(), z.number().positive()]),
        /**
         * How a source picture becomes width x height: 'letterbox' keeps the aspect ratio and pads
         * (see letterbox), 'stretch' resizes each axis independently (models trained that way, e.g.
         * PicoDet; letterboxing them shifts their scale statistics).
         */
        resize: z.enum(['letterbox', 'stretch']).default('letterbox'),
        letterbox: z.object({ anchor: z.literal('top-left'), padValue: z.number().int().min(0).max(255) }).optional(),
      })
      .refine((i) => i.resize !== 'letterbox' || i.letterbox, {
        message: 'resize "letterbox" needs input.letterbox { anchor, padValue }',
        path: ['letterbox'],
      }),
    outputs: z.array(z.string()).min(1),
    decoder: z.object({
      kind: z.enum(DECODER_KINDS),
      strides: z.array(z.number().int().positive()).optional(),
      /** Distribution-focal-loss heads (picodet): bins per box side minus one (8 bins → 7). */
      regMax: z.number().int().positive().optional(),
    }),
    labels: z.array(z.string().min(1)).min(1),
  })
  .strict();
export type ModelManifest = z.infer<typeof modelManifestSchema>;

export async function loadManifest(name: string, dir = MANIFEST_DIR): Promise<ModelManifest> {
  if (!/^[a-z0-9_.-]+$/.test(name)) throw new Error(`invalid model name "${name}"`);
  const file = path.join(dir, `${name}.json`);
  let raw: string;
  try {
    raw = await readFile(file, 'utf8');
  } catch {
    const known = await listManifests(dir);
    throw new Error(`unknown model "${name}": no manifest ${file}. Known models: ${known.join(', ') || '(none)'}`);
  }
  const parsed = modelManifestSchema.safeParse(JSON.parse(raw));
  if (!parsed.success) {
    throw new Error(`invalid model manifest ${file}: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  }
  return parsed.data;
}

export async function listManifests(dir = MANIFEST_DIR): Promise<string[]> {
  const files = await readdir(dir);
  return files
    .filter((f) => f.endsWith('.json'))
    .map((f) => f.slice(0, -5))
    .sort();
}
