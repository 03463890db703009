import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, scheduleActive } from '../rules/zones.js';
import { loadCameraConfigFile } from './camera-config-file.js';

describe('loadCameraConfigFile', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'citywatch-zones-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  const write = async (name: string, text: string) => {
    const p = join(dir, name);
    await writeFile(p, text);
    return p;
  };

  it('loads YAML with unquoted times as strings', async () => {
    const p = await write(
      'cam.yaml',
      [
        'camera: { id: market-east }',
        'zones:',
        '  - id: night-market',
        '    type: no_vending',
        '    polygon: [[0.1, 0.5], [0.9, 0.5], [0.9, 1.0], [0.1, 1.0]]',
        '    schedule:',
        '      mode: exempt',
        '      windows: [{ start: 18:00, end: 23:00 }]',
      ].join('\n'),
    );
    const c = await loadCameraConfigFile(p);
    expect(c.zones[0]!.schedule!.windows[0]).toEqual({ days: [1, 2, 3, 4, 5, 6, 7], start: '18:00', end: '23:00' });
    expect(scheduleActive(c.zones[0]!.schedule, Date.UTC(2024, 5, 3, 12))).toBe(false); // 20:00 in Shanghai
  });

  it('loads JSON', async () => {
    const p = await write('cam.json', JSON.stringify({ camera: { id: 'c2' }, analysis: { fps: 1 } }));
    const c = await loadCameraConfigFile(p);
    expect([c.camera.id, c.analysis.fps, c.zones]).toEqual(['c2', 1, []]);
  });

  it('names the path and problem on bad syntax, schema errors, wrong type or missing file', async () => {
    const bad = await write('bad.yml', 'camera: { id: c1\nzones: [');
    await expect(loadCameraConfigFile(bad)).rejects.toThrow(new RegExp(`^${escape(bad)}: invalid YAML syntax: `));
    const badJson = await write('bad.json', '{"camera": {"id": "c1"}');
    await expect(loadCameraConfigFile(badJson)).rejects.toThrow(new RegExp(`^${escape(badJson)}: invalid JSON syntax: `));
    const schema = await write('schema.yaml', 'camera: { id: "bad id!" }\n');
    await expect(loadCameraConfigFile(schema)).rejects.toThrow(
      `${schema}: invalid camera config: camera.id: camera id: 1–64 of A-Z a-z 0-9 _ . -`,
    );
    const dup = await write('dup.yaml', 'camera: { id: c1 }\ncamera: { id: c2 }\n');
    await expect(loadCameraConfigFile(dup)).rejects.toThrow(/dup\.yaml: invalid YAML syntax: .*[Uu]nique/);
    // JSON.parse would silently keep the last duplicate; the YAML parser refuses it.
    const dupJson = await write('dup.json', '{"camera": {"id": "c1"}, "camera": {"id": "c2"}}');
    await expect(loadCameraConfigFile(dupJson)).rejects.toThrow(/dup\.json: invalid JSON syntax: .*[Uu]nique/);
    const empty = await write('empty.yaml', '');
    await expect(loadCameraConfigFile(empty)).rejects.toThrow(`${empty}: invalid camera config: (root):`);
    await expect(loadCameraConfigFile(join(dir, 'cam.txt'))).rejects.toThrow(/cam\.txt: unsupported config file type "\.txt"/);
    await expect(loadCameraConfigFile(join(dir, 'missing.yaml'))).rejects.toThrow(/missing\.yaml: cannot read camera config: ENOENT/);
    await expect(loadCameraConfigFile(join(dir, 'missing.yaml'))).rejects.toBeInstanceOf(ConfigError);
  });
});

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
