// Classifies a stream address and decides which ffmpeg protocols it may touch. The whitelist is
// the security boundary: a hostile HLS playlist must not make ffmpeg read local files, and an
// rtsp:// camera must not be able to redirect us to file: or concat:.
import path from 'node:path';

export type InputKind = 'file' | 'rtsp' | 'rtsps' | 'hls';

export interface InputSpec {
  kind: InputKind;
  /** What ffmpeg gets as -i (file paths are prefixed with file: so they are never parsed as URLs). */
  ffmpegInput: string;
  /** Address safe to log or show: credentials replaced by ***. */
  display: string;
  /** -protocol_whitelist value. */
  protocols: string;
  /** Live sources reconnect on EOF/stall; files end. */
  live: boolean;
}

export class InputError extends Error {}

export function redactUrl(raw: string): string {
  try {
    const u = new URL(raw);
    if (u.username || u.password) {
      u.username = u.username ? '***' : '';
      u.password = u.password ? '***' : '';
    }
    return u.toString();
  } catch {
    return raw.replace(/\/\/[^/@\s]*@/, '//***@');
  }
}

/**
 * Removes credentials from text that came from ffmpeg/ffprobe (they echo the input URL verbatim
 * in their errors) before it reaches logs, states or API responses.
 */
export function scrubSecrets(text: string, spec?: InputSpec): string {
  let out = spec && spec.ffmpegInput !== spec.display ? text.split(spec.ffmpegInput).join(spec.display) : text;
  out = out.replace(/([a-z][a-z0-9+.-]*:\/\/)(?!\*\*\*(?::\*\*\*)?@)[^/@\s]+@/gi, '$1***@');
  return out;
}

export interface ParseInputOptions {
  /** Allow local file paths (testers' replays, the CLI); the camera API refuses them. */
  allowFiles?: boolean;
  /** Override liveness (e.g. a VOD HLS playlist that should end at EOF). */
  live?: boolean;
}

export function parseInput(raw: string, opts: ParseInputOptions = {}): InputSpec {
  const allowFiles = opts.allowFiles ?? true;
  if (typeof raw !== 'string' || raw.trim() === '') throw new InputError('input is empty');
  if (/[\0\r\n]/.test(raw)) throw new InputError('input contains control characters');
  const schemeMatch = /^([a-zA-Z][a-zA-Z0-9+.-]*):/.exec(raw);
  // A one-letter "scheme" is a Windows drive letter, not a protocol.
  if (!schemeMatch || schemeMatch[1]!.length === 1) {
    if (!allowFiles) throw new InputError('local file paths are not allowed here; use an rtsp://, rtsps:// or http(s) .m3u8 URL');
    const abs = path.resolve(raw);
    return { kind: 'file', ffmpegInput: `file:${abs}`, display: abs, protocols: 'file', live: opts.live ?? false };
  }
  const scheme = schemeMatch[1]!.toLowerCase();
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new InputError(`not a valid URL: ${redactUrl(raw)}`);
  }
  const display = redactUrl(raw);
  if (['rtsp', 'rtsps', 'http', 'https'].includes(scheme) && !url.hostname) throw new InputError(`URL has no host: ${display}`);
  switch (scheme) {
    case 'rtsp':
      return { kind: 'rtsp', ffmpegInput: raw, display, protocols: 'rtsp,rtp,udp,tcp', live: opts.live ?? true };
    case 'rtsps':
      return { kind: 'rtsps', ffmpegInput: raw, display, protocols: 'rtsp,rtsps,rtp,udp,tcp,tls', live: opts.live ?? true };
    case 'http':
    case 'https': {
      if (!url.pathname.toLowerCase().endsWith('.m3u8')) {
        throw new InputError(`only HLS playlists (.m3u8) are accepted over ${scheme}: ${display}`);
      }
      // hls and crypto are the demuxer's nested protocols; file is deliberately absent.
      const protocols = scheme === 'https' ? 'https,http,tls,tcp,crypto,hls' : 'http,tcp,crypto,hls';
      return { kind: 'hls', ffmpegInput: raw, display, protocols, live: opts.live ?? true };
    }
    case 'file':
      throw new InputError('file: URLs are not accepted; pass a plain path (where local files are allowed)');
    default:
      throw new InputError(`scheme "${scheme}:" is not allowed; use rtsp://, rtsps:// or http(s)://….m3u8`);
  }
}
