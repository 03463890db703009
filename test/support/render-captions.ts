// Child process for the CJK caption test: renders each text given as a JSON array in argv[2] as a
// snapshot caption (annotateImage on a plain grey frame) and prints the raw RGB pixels as base64
// JSON. Run with FONTCONFIG_FILE set, it shows what a machine with other fonts would draw.
import sharp from 'sharp';
import { annotateImage } from '../../pipeline/evidence/annotate.js';

// 720 px tall: captions at 20 px, as on a 720p snapshot; one character wide.
export const CAPTION_FRAME = { width: 64, height: 720 };

export async function renderCaption(text: string): Promise<Buffer> {
  const { width, height } = CAPTION_FRAME;
  const blank = { raw: Buffer.alloc(width * height * 3, 40), width, height, pixelFormat: 'rgb24' as const };
  return sharp(await annotateImage(blank, { caption: text }, { quality: 100 }))
    .raw()
    .toBuffer();
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) {
  const texts = JSON.parse(process.argv[2] ?? '[]') as string[];
  const out: Record<string, string> = {};
  for (const t of texts) out[t] = (await renderCaption(t)).toString('base64');
  process.stdout.write(JSON.stringify(out));
}
