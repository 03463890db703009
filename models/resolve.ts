// Finds model weights on disk and proves they are the bytes the manifest names. Weights are
// never committed: they come from MODEL_DIR (CI points it at ../shared/models) or from the
// cache that `npm run models:fetch` fills from the official URL.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, rename, stat, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { ModelManifest } from './manifest.js';
// The search order lives in plain JavaScript so the setup script (run before node_modules exist) uses it too.
import { cacheDir, modelSearchDirs } from './search-dirs.mjs';

export { cacheDir, modelSearchDirs };

export class ModelResolveError extends Error {}

export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

// Hashing a few MB is cheap, but callers resolve per session; remember verified files by identity.
const verified = new Map<string, string>();

/** Absolute path of the verified weights file, or a ModelResolveError naming the file and the fix. */
export async function resolveModelFile(manifest: ModelManifest, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const dirs = modelSearchDirs(env);
  for (const dir of dirs) {
    const file = path.join(dir, manifest.file);
    const st = await stat(file).catch(() => null);
    if (!st?.isFile()) continue;
    const identity = `${file}:${st.size}:${st.mtimeMs}`;
    if (verified.get(identity) === manifest.sha256) return file;
    const actual = await sha256File(file);
    if (actual !== manifest.sha256) {
      throw new ModelResolveError(
        `model file ${file} has sha256 ${actual}, but manifest "${manifest.name}" expects ${manifest.sha256}. ` +
          `Delete it and run \`npm run models:fetch -- ${manifest.name}\`, or point MODEL_DIR at a directory with the official ${manifest.file}.`,
      );
    }
    verified.set(identity, actual);
    return file;
  }
  const fix = manifest.url
    ? `Set MODEL_DIR to a directory containing it, or run \`npm run models:fetch -- ${manifest.name}\` to download ${manifest.url}.`
    : `It has no official download URL: set MODEL_DIR to a directory containing ${manifest.file} (sha256 ${manifest.sha256}).`;
  throw new ModelResolveError(`model file ${manifest.file} for "${manifest.name}" not found in ${dirs.join(', ')}. ${fix}`);
}

/** Downloads the official weights into the cache, verifying the sha256 before the file becomes visible. */
export async function fetchModel(
  manifest: ModelManifest,
  opts: { env?: NodeJS.ProcessEnv; fetchImpl?: typeof fetch; url?: string } = {},
): Promise<string> {
  const dir = cacheDir(opts.env);
  await mkdir(dir, { recursive: true });
  const target = path.join(dir, manifest.file);
  const url = opts.url ?? manifest.url;
  if (!url) {
    throw new ModelResolveError(
      `model "${manifest.name}" has no download URL: resolve ${manifest.file} from MODEL_DIR or ../shared/models only (sha256 ${manifest.sha256}).`,
    );
  }
  let res: Response;
  try {
    res = await (opts.fetchImpl ?? fetch)(url, { redirect: 'follow' });
  } catch (err) {
    throw new ModelResolveError(
      `could not download ${url}: ${(err as Error).message}. Copy ${manifest.file} into ${dir} or set MODEL_DIR.`,
    );
  }
  if (!res.ok) throw new ModelResolveError(`download of ${url} failed: HTTP ${res.status}`);
  const body = Buffer.from(await res.arrayBuffer());
  const actual = createHash('sha256').update(body).digest('hex');
  if (actual !== manifest.sha256) {
    throw new ModelResolveError(`downloaded ${url} has sha256 ${actual}, expected ${manifest.sha256}; not installed.`);
  }
  const tmp = `${target}.${process.pid}.part`;
  await writeFile(tmp, body);
  await rename(tmp, target).catch(async (err) => {
    await unlink(tmp).catch(() => undefined);
    throw err;
  });
  return target;
}
