// The ONE input boundary for every ffmpeg/ffprobe spawn (frame source, recorder, probes, clips,
// previews, replays): it classifies a stream address, decides which ffmpeg protocols it may touch,
// and owns redaction of everything secret in it. The whitelist is the security boundary: a hostile
// HLS playlist must not make ffmpeg read local files, and an rtsp:// camera must not be able to
// redirect us to file: or concat:.
import path from 'node:path';

export type InputKind = 'file' | 'rtsp' | 'rtsps' | 'hls';

export interface InputSpec {
  kind: InputKind;
  /** What ffmpeg gets as -i (file paths are prefixed with file: so they are never parsed as URLs). */
  ffmpegInput: string;
  /** Address safe to log or show: userinfo and secret query values replaced by ***. */
  display: string;
  /** -protocol_whitelist value. */
  protocols: string;
  /** Live sources reconnect on EOF/stall; files end. */
  live: boolean;
  /** Host name of a network input ('' for files); what the address policy resolves. */
  host: string;
  /**
   * Raw secret strings in the input (userinfo, secret query values, in raw and decoded form), so
   * tool output that echoes them in any shape can be scrubbed. Never log this field.
   */
  secrets: string[];
  /** Query parameters the caller marked secret (camera record `secretParams`). */
  secretParams: string[];
  /** HTTP Host header to send when the URL's host was rewritten to a checked address (DNS pinning). */
  hostHeader?: string;
}

export class InputError extends Error {}

/**
 * Query parameter names whose values are credentials. Matched case-insensitively against the whole
 * name; the list follows what cameras, CDNs and cloud stores actually use.
 */
export const SECRET_QUERY_PARAMS = [
  'token',
  'key',
  'auth',
  'authtoken',
  'auth_token',
  'password',
  'passwd',
  'pwd',
  'pass',
  'secret',
  'signature',
  'sig',
  'access_token',
  'accesstoken',
  'apikey',
  'api_key',
  'api-key',
  'session',
  'sessionid',
  'x-amz-signature',
  'x-amz-credential',
  'x-amz-security-token',
  'x-goog-signature',
  'x-goog-credential',
  'credential',
  'credentials',
  'hmac',
  'jwt',
  'ticket',
  'user',
  'username',
  'login',
];
// Names that merely contain one of these words are secret too (e.g. stream_token, camPassword).
const SECRET_NAME = /pass|pwd|token|secret|sig|auth|key|credential|session|jwt|hmac/i;

export function isSecretParam(name: string, extra: readonly string[] = []): boolean {
  const n = name.toLowerCase();
  return SECRET_QUERY_PARAMS.includes(n) || SECRET_NAME.test(n) || extra.some((e) => e.toLowerCase() === n);
}

/** The URL with userinfo and secret-looking (or caller-marked) query values replaced by ***. */
export function redactUrl(raw: string, secretParams: readonly string[] = []): string {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    // Not a URL (a file path) or unparsable: strip anything that looks like userinfo.
    return raw.replace(/\/\/[^/@\s]*@/, '//***@');
  }
  if (u.username || u.password) {
    u.username = u.username ? '***' : '';
    u.password = u.password ? '***' : '';
  }
  if (u.search) {
    // Rebuilt by hand: URLSearchParams would re-encode the *** and every other value.
    const parts = u.search
      .slice(1)
      .split('&')
      .map((p) => {
        const eq = p.indexOf('=');
        const name = safeDecode(eq < 0 ? p : p.slice(0, eq));
        return eq >= 0 && isSecretParam(name, secretParams) ? `${p.slice(0, eq)}=***` : p;
      });
    u.search = parts.join('&');
  }
  return u.toString().replace(/%2A%2A%2A/g, '***');
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return s;
  }
}

/** The secret strings inside a URL (userinfo parts and secret query values), raw and decoded. */
export function secretsOf(raw: string, secretParams: readonly string[] = []): string[] {
  const out = new Set<string>();
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    const m = /\/\/([^/@\s]*)@/.exec(raw);
    if (m?.[1]) for (const part of m[1].split(':')) out.add(part);
    return [...out].filter((s) => s.length >= 3);
  }
  for (const v of [u.username, u.password]) {
    if (v) {
      out.add(v);
      out.add(safeDecode(v));
    }
  }
  for (const p of u.search.slice(1).split('&')) {
    const eq = p.indexOf('=');
    if (eq < 0) continue;
    if (!isSecretParam(safeDecode(p.slice(0, eq)), secretParams)) continue;
    const v = p.slice(eq + 1);
    if (v) {
      out.add(v);
      out.add(safeDecode(v));
    }
  }
  // Very short values ("1", "ab") would shred unrelated text; they are not real secrets anyway.
  return [...out].filter((s) => s.length >= 3).sort((a, b) => b.length - a.length);
}

/**
 * Removes secrets from text that came from ffmpeg/ffprobe, a library or an OS error (they echo the
 * input URL verbatim, in part, or percent-decoded) before it reaches logs, states, webhooks or API
 * responses. With a spec, every secret string of that input is replaced wherever it appears; without
 * one, every URL in the text is redacted as redactUrl would.
 */
export function scrubSecrets(text: string, spec?: Pick<InputSpec, 'secrets' | 'secretParams'> | null): string {
  let out = String(text);
  for (const s of spec?.secrets ?? []) out = out.split(s).join('***');
  // Any URL left in the text (redirect targets, segment URLs, a different spelling of ours).
  out = out.replace(/\b[a-z][a-z0-9+.-]*:\/\/[^\s'"<>()]+/gi, (m) =>
    hasSecret(m, spec?.secretParams ?? []) ? redactUrl(m, spec?.secretParams ?? []) : m,
  );
  // userinfo in something URL-like that new URL() rejected.
  out = out.replace(/([a-z][a-z0-9+.-]*:\/\/)(?!\*\*\*(?::\*\*\*)?@)[^/@\s]+@/gi, '$1***@');
  // A query string on its own line ("?token=..."), as some demuxers print it.
  out = out.replace(/([?&])([A-Za-z0-9_.-]+)=([^&\s'"]+)/g, (m, sep: string, name: string) =>
    isSecretParam(name, spec?.secretParams ?? []) ? `${sep}${name}=***` : m,
  );
  return out;
}

/** What scrubSecrets needs to know of a stream address kept outside a spec (a camera record's URL). */
export function secretsSpec(raw: string, secretParams: readonly string[] = []): Pick<InputSpec, 'secrets' | 'secretParams'> {
  return { secrets: secretsOf(raw, secretParams), secretParams: [...secretParams] };
}

function hasSecret(raw: string, secretParams: readonly string[]): boolean {
  try {
    const u = new URL(raw);
    if ((u.username && u.username !== '***') || (u.password && u.password !== '***')) return true;
    return u.search
      .slice(1)
      .split('&')
      .some((p) => {
        const eq = p.indexOf('=');
        return eq >= 0 && p.slice(eq + 1) !== '***' && isSecretParam(safeDecode(p.slice(0, eq)), secretParams);
      });
  } catch {
    return false;
  }
}

/** RTSP over TCP/UDP or TLS: the kinds that take -rtsp_transport and carry RTP timestamps. */
export function isRtsp(kind: InputKind): boolean {
  return kind === 'rtsp' || kind === 'rtsps';
}

/** Live (network) input or a file? The recorder and runner ask this; one rule for everyone. */
export function isLiveInput(raw: string): boolean {
  try {
    return parseInput(raw).kind !== 'file';
  } catch {
    return false;
  }
}

/** ffmpeg/ffprobe options that must precede `-i` for this input: whitelist and pinned Host header. */
export function inputGuardArgs(spec: InputSpec): string[] {
  const args = ['-protocol_whitelist', spec.protocols];
  if (spec.hostHeader && spec.kind === 'hls') args.push('-headers', `Host: ${spec.hostHeader}\r\n`);
  return args;
}

export interface ParseInputOptions {
  /** Allow local file paths (testers' replays, the CLI); the camera API refuses them. */
  allowFiles?: boolean;
  /** Override liveness (e.g. a VOD HLS playlist that should end at EOF). */
  live?: boolean;
  /** Extra query parameter names to treat as secret (camera record `secretParams`). */
  secretParams?: readonly string[];
  /** Set when the host of `raw` is a pinned address standing for this name (see address-policy). */
  hostHeader?: string;
}

export function parseInput(raw: string, opts: ParseInputOptions = {}): InputSpec {
  const allowFiles = opts.allowFiles ?? true;
  const secretParams = [...(opts.secretParams ?? [])];
  if (typeof raw !== 'string' || raw.trim() === '') throw new InputError('input is empty');
  if (/[\0\r\n]/.test(raw)) throw new InputError('input contains control characters');
  const schemeMatch = /^([a-zA-Z][a-zA-Z0-9+.-]*):/.exec(raw);
  // A one-letter "scheme" is a Windows drive letter, not a protocol.
  if (!schemeMatch || schemeMatch[1]!.length === 1) {
    if (!allowFiles) throw new InputError('local file paths are not allowed here; use an rtsp://, rtsps:// or http(s) .m3u8 URL');
    const abs = path.resolve(raw);
    return {
      kind: 'file',
      ffmpegInput: `file:${abs}`,
      display: abs,
      protocols: 'file',
      live: opts.live ?? false,
      host: '',
      secrets: [],
      secretParams,
    };
  }
  const scheme = schemeMatch[1]!.toLowerCase();
  const display = redactUrl(raw, secretParams);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new InputError(`not a valid URL: ${display}`);
  }
  if (['rtsp', 'rtsps', 'http', 'https'].includes(scheme) && !url.hostname) throw new InputError(`URL has no host: ${display}`);
  const base = {
    ffmpegInput: raw,
    display,
    host: url.hostname.replace(/^\[|\]$/g, ''),
    secrets: secretsOf(raw, secretParams),
    secretParams,
    ...(opts.hostHeader ? { hostHeader: opts.hostHeader } : {}),
  };
  switch (scheme) {
    case 'rtsp':
      return { ...base, kind: 'rtsp', protocols: 'rtsp,rtp,udp,tcp', live: opts.live ?? true };
    case 'rtsps':
      return { ...base, kind: 'rtsps', protocols: 'rtsp,rtsps,rtp,udp,tcp,tls', live: opts.live ?? true };
    case 'http':
    case 'https': {
      if (!url.pathname.toLowerCase().endsWith('.m3u8')) {
        throw new InputError(`only HLS playlists (.m3u8) are accepted over ${scheme}: ${display}`);
      }
      // hls and crypto are the demuxer's nested protocols; file is deliberately absent, so a
      // playlist whose segments are file: paths fails inside ffmpeg instead of reading them.
      const protocols = scheme === 'https' ? 'https,http,tls,tcp,crypto,hls' : 'http,tcp,crypto,hls';
      return { ...base, kind: 'hls', protocols, live: opts.live ?? true };
    }
    case 'file':
      throw new InputError('file: URLs are not accepted; pass a plain path (where local files are allowed)');
    default:
      // concat:, subfile:, data:, pipe:, crypto:, tee:, ... : ffmpeg pseudo-protocols that read
      // local files or memory; never from a user.
      throw new InputError(`scheme "${scheme}:" is not allowed; use rtsp://, rtsps:// or http(s)://….m3u8`);
  }
}
