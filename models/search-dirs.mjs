// @ts-check
// Where model weights are looked for. Plain JavaScript so scripts/setup.mjs (which runs before
// node_modules exist) and models/resolve.ts share the one definition.
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/**
 * Directories searched in order: $MODEL_DIR, then the user cache ($CITYWATCH_CACHE or
 * ~/.cache/citywatch/models). Without MODEL_DIR, `shared/models` beside the checkout is tried
 * last (how this project's development machines provide weights without a download).
 * @param {NodeJS.ProcessEnv} [env]
 * @param {string} [repoRoot]
 * @returns {string[]}
 */
export function modelSearchDirs(env = process.env, repoRoot = REPO_ROOT) {
  if (env.MODEL_DIR) return [path.resolve(env.MODEL_DIR), cacheDir(env)];
  return [cacheDir(env), path.resolve(repoRoot, '..', 'shared', 'models')];
}

/**
 * @param {NodeJS.ProcessEnv} [env]
 * @returns {string}
 */
export function cacheDir(env = process.env) {
  return path.resolve(env.CITYWATCH_CACHE ?? path.join(os.homedir(), '.cache', 'citywatch', 'models'));
}
