// Chinese class names on snapshots must be text, not missing-glyph boxes ("tofu"). The same captions
// are rendered here and in a child process whose fontconfig sees every font of this machine except
// those covering the class names: that child is the machine before setup installed a CJK font, and
// draws Pango's hex boxes. Every character must come out different from its box here.
import { execFile, execFileSync } from 'node:child_process';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { classNameCharset, installedCjkFamilies } from '../../pipeline/evidence/annotate.js';
import { renderCaption, CAPTION_FRAME } from '../support/render-captions.js';
import { REPO_ROOT } from '../support/media.js';
import { tempDir } from '../workers/helpers.js';

let cleanup: (() => Promise<void>) | null = null;
afterAll(async () => {
  await cleanup?.();
});

/** A fontconfig file listing this machine's fonts minus the ones that hold the given characters. */
async function fontconfigWithout(chars: string[], dir: string): Promise<string> {
  const files = (args: string[]) =>
    new Set(
      execFileSync('fc-list', [...args, '--format', '%{file}\n'], { encoding: 'utf8' })
        .split('\n')
        .filter(Boolean),
    );
  const cjk = files([`:charset=${chars.map((c) => c.codePointAt(0)!.toString(16)).join(' ')}`]);
  const fonts = path.join(dir, 'fonts');
  await mkdir(fonts, { recursive: true });
  let i = 0;
  for (const f of files([])) if (!cjk.has(f)) await symlink(f, path.join(fonts, `${i++}-${path.basename(f)}`));
  const conf = path.join(dir, 'fonts.conf');
  await writeFile(
    conf,
    `<?xml version="1.0"?>\n<!DOCTYPE fontconfig SYSTEM "urn:fontconfig:fonts.dtd">\n<fontconfig>\n  <dir>${fonts}</dir>\n  <cachedir>${path.join(dir, 'cache')}</cachedir>\n  <include ignore_missing="yes">/etc/fonts/conf.d</include>\n</fontconfig>\n`,
  );
  return conf;
}

/** Text pixels: the caption is white on a dark bar over a grey (40) frame. */
function ink(rgb: Buffer): Set<number> {
  const on = new Set<number>();
  for (let i = 0; i < rgb.length; i += 3) if (rgb[i]! + rgb[i + 1]! + rgb[i + 2]! > 3 * 128) on.add(i / 3);
  return on;
}

function iou(a: Set<number>, b: Set<number>): number {
  let both = 0;
  for (const p of a) if (b.has(p)) both++;
  return both / (a.size + b.size - both || 1);
}

describe('Chinese captions on snapshots', () => {
  it('draw every character of the class names as a glyph, where a machine without a CJK font draws boxes', async () => {
    const chars = classNameCharset();
    expect(chars.length).toBeGreaterThan(40);
    expect(installedCjkFamilies(), 'no installed font holds the class names (setup installs fonts-droid-fallback)').not.toEqual([]);

    const t = await tempDir('cjk');
    cleanup = t.cleanup;
    const conf = await fontconfigWithout(chars, t.dir);
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', path.join(REPO_ROOT, 'test', 'support', 'render-captions.ts'), JSON.stringify(chars)],
      {
        cwd: REPO_ROOT,
        env: { ...process.env, FONTCONFIG_FILE: conf },
        maxBuffer: 512 * 1024 * 1024,
      },
    );
    const before = JSON.parse(stdout) as Record<string, string>;

    const boxes: string[] = [];
    const same: string[] = [];
    for (const ch of chars) {
      const there = ink(Buffer.from(before[ch]!, 'base64'));
      const here = ink(await renderCaption(ch));
      // The child drew something (a box with the code point in hex), else the comparison proves nothing.
      if (there.size < 20) boxes.push(ch);
      if (here.size < 20 || iou(here, there) > 0.5)
        same.push(`${ch} (ink ${here.size} px, overlap with the box ${iou(here, there).toFixed(2)})`);
    }
    expect(boxes, `without CJK fonts these drew nothing at ${CAPTION_FRAME.width}x${CAPTION_FRAME.height}`).toEqual([]);
    expect(same, 'these characters render like missing-glyph boxes').toEqual([]);
  });
});
