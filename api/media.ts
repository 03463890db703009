// Verifies that an uploaded file really is a video by asking ffprobe (never by its name or the
// client's Content-Type): it must demux, carry a video stream and not be a still image. The probe
// itself is the frame source's (pipeline/source/probe.ts), through the same input boundary.
import { parseInput } from '../pipeline/source/input-url.js';
import { ProbeError, probeInput } from '../pipeline/source/probe.js';

export interface VideoInfo {
  format: string;
  width: number;
  height: number;
  codec: string;
  duration: number | null;
}

export class NotVideoError extends Error {}

// Demuxers that read still images (a JPEG renamed .mp4 "has a video stream" of one frame).
const IMAGE_FORMATS = /(^|,)(image2|[a-z0-9]+_pipe|apng|webp|ico|tiff|bmp|psd|svg)(,|$)/;

export async function probeVideoFile(file: string, timeoutMs = 15_000): Promise<VideoInfo> {
  const spec = parseInput(file);
  let p;
  try {
    p = await probeInput(spec, { timeoutMs });
  } catch (err) {
    if (!(err instanceof ProbeError)) throw err;
    // ffprobe echoes the path; the client does not need our upload directory.
    throw new NotVideoError(err.message.split(spec.display).join('the upload').split(file).join('the upload'));
  }
  if (IMAGE_FORMATS.test(p.format)) throw new NotVideoError(`the upload is a still image (${p.format}), not a video`);
  return { format: p.format, width: p.width, height: p.height, codec: p.codec, duration: p.duration };
}
