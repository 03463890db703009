// Reads a camera config file (.yaml/.yml/.json) from disk and validates it with the camera-config
// schema (pipeline/rules/zones.ts parseCameraConfig); every error carries the path.
import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { CameraConfig } from '../rules/config-schema.js';
import { ConfigError, parseCameraConfig } from '../rules/zones.js';

/** Reads a .yaml/.yml/.json camera config; errors carry the path. */
export async function loadCameraConfigFile(path: string): Promise<CameraConfig> {
  const ext = extname(path).toLowerCase();
  if (!['.yaml', '.yml', '.json'].includes(ext)) {
    throw new ConfigError(`${path}: unsupported config file type "${ext || '(none)'}" (use .yaml, .yml or .json)`);
  }
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`${path}: cannot read camera config: ${(err as Error).message}`, { cause: err });
  }
  let data: unknown;
  try {
    // YAML 1.2 (the package default) so unquoted 18:00 stays a string, not sexagesimal 1080.
    // JSON goes through the same parser on purpose: unlike JSON.parse it rejects duplicate keys
    // instead of silently keeping the last one.
    data = parseYaml(text);
  } catch (err) {
    throw new ConfigError(`${path}: invalid ${ext === '.json' ? 'JSON' : 'YAML'} syntax: ${(err as Error).message}`, { cause: err });
  }
  try {
    return parseCameraConfig(data);
  } catch (err) {
    throw new ConfigError(`${path}: ${(err as Error).message}`, { cause: err });
  }
}
