import { listManifests, loadManifest } from '../../models/manifest.js';
import { fetchModel, resolveModelFile } from '../../models/resolve.js';

export async function listModels(): Promise<void> {
  for (const name of await listManifests()) {
    const m = await loadManifest(name);
    const where = await resolveModelFile(m).then(
      (f) => `ok ${f}`,
      (e: Error) => `missing (${e.message})`,
    );
    const origin = m.url ? 'fetchable' : 'no URL (MODEL_DIR only)';
    process.stdout.write(
      `${name}\t${m.decoder.kind}\t${m.input.width}x${m.input.height} ${m.input.resize}\t${m.labels.length} labels\t${origin}\t${where}\n`,
    );
  }
}

export async function fetchModels(names: string[]): Promise<void> {
  const targets = names.length ? names : await listManifests();
  for (const name of targets) {
    const m = await loadManifest(name);
    const existing = await resolveModelFile(m).catch(() => null);
    if (existing) {
      process.stdout.write(`${name}: already present and verified at ${existing}\n`);
      continue;
    }
    if (!m.url) {
      process.stdout.write(`${name}: no download URL; place ${m.file} (sha256 ${m.sha256}) in MODEL_DIR\n`);
      continue;
    }
    process.stdout.write(`${name}: downloading ${m.url}\n`);
    const file = await fetchModel(m);
    process.stdout.write(`${name}: sha256 ok, saved to ${file}\n`);
  }
}
