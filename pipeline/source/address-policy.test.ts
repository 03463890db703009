import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { AddressPolicyError, checkInput, parseCidrs, refusedBy, type Resolver } from './address-policy.js';
import { redactUrl, scrubSecrets, secretsOf, parseInput } from './input-url.js';

// A resolver that answers from a table and records what it was asked: no name ever leaves the process.
function table(map: Record<string, string[]>): Resolver & { asked: string[] } {
  const asked: string[] = [];
  const fn = (async (host: string) => {
    asked.push(host);
    const a = map[host];
    if (!a) throw Object.assign(new Error('not found'), { code: 'ENOTFOUND' });
    return a.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  }) as Resolver & { asked: string[] };
  fn.asked = asked;
  return fn;
}

async function rule(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'allowed';
  } catch (err) {
    if (err instanceof AddressPolicyError) return err.rule;
    throw err;
  }
}

describe('address policy rules', () => {
  it.each([
    ['169.254.169.254', 'camera', 'metadata'],
    ['::ffff:169.254.169.254', 'camera', 'metadata'],
    ['fd00:ec2::254', 'camera', 'metadata'],
    ['100.100.100.200', 'camera', 'metadata'],
    ['169.254.1.2', 'camera', 'link-local'],
    ['fe80::1', 'camera', 'link-local'],
    ['0.0.0.0', 'camera', 'unspecified'],
    ['224.0.0.1', 'replay', 'unspecified'],
    ['10.1.2.3', 'camera', null],
    ['192.168.1.10', 'camera', null],
    ['127.0.0.1', 'camera', null],
    ['10.1.2.3', 'replay', 'private'],
    ['172.16.0.1', 'replay', 'private'],
    ['100.64.0.1', 'replay', 'private'],
    ['fc00::1', 'replay', 'private'],
    ['127.0.0.1', 'replay', 'loopback'],
    ['::1', 'replay', 'loopback'],
    ['8.8.8.8', 'replay', null],
    ['2001:4860::8888', 'replay', null],
  ] as const)('%s for a %s → %s', (address, purpose, expected) => {
    expect(refusedBy(address, { purpose })).toBe(expected);
  });
  it('an allow-list opens private/loopback replay targets but never link-local or metadata', () => {
    const allowCidrs = ['127.0.0.0/8', '10.20.0.0/16', '169.254.0.0/16'];
    expect(refusedBy('127.0.0.5', { purpose: 'replay', allowCidrs })).toBeNull();
    expect(refusedBy('10.20.3.4', { purpose: 'replay', allowCidrs })).toBeNull();
    expect(refusedBy('10.21.3.4', { purpose: 'replay', allowCidrs })).toBe('private');
    expect(refusedBy('169.254.169.254', { purpose: 'replay', allowCidrs })).toBe('metadata');
    expect(refusedBy('169.254.9.9', { purpose: 'replay', allowCidrs })).toBe('link-local');
  });
  it('parses REPLAY_ALLOW_CIDRS strictly', () => {
    expect(parseCidrs('127.0.0.0/8, ::1/128 10.0.0.0/8')).toEqual(['127.0.0.0/8', '::1/128', '10.0.0.0/8']);
    expect(parseCidrs(undefined)).toEqual([]);
    expect(() => parseCidrs('10.0.0.0/8,banana')).toThrow(/"banana" is not a CIDR/);
  });
});

describe('checkInput: resolve, refuse before connecting, pin', () => {
  let server: net.Server | null = null;
  afterEach(() => new Promise<void>((r) => (server ? server.close(() => r()) : r())));

  it('refuses names that resolve to link-local/metadata, and any name with one bad address', async () => {
    const resolve = table({ 'evil.example': ['169.254.169.254'], 'mixed.example': ['10.0.0.5', 'fe80::2'], 'cam.example': ['10.0.0.5'] });
    expect(await rule(checkInput('rtsp://evil.example/live', { purpose: 'camera', resolve }))).toBe('metadata');
    expect(await rule(checkInput('http://mixed.example/a.m3u8', { purpose: 'camera', resolve }))).toBe('link-local');
    expect(await rule(checkInput('rtsp://metadata.google.internal/x', { purpose: 'camera', resolve }))).toBe('metadata');
    expect(resolve.asked).not.toContain('metadata.google.internal'); // refused by name, not even resolved
    expect(await rule(checkInput('rtsp://cam.example/live', { purpose: 'replay', resolve }))).toBe('private');
    expect(await rule(checkInput('rtsp://nowhere.example/live', { purpose: 'replay', resolve }))).toBe('unresolvable');
  });

  it('pins the URL to the checked address and keeps the name for display and the Host header', async () => {
    const resolve = table({ 'cam.example': ['10.0.0.5'] });
    const { spec, address } = await checkInput('http://user:pw@cam.example:8080/live.m3u8?token=abcdef', { purpose: 'camera', resolve });
    expect(address).toBe('10.0.0.5');
    expect(spec.ffmpegInput).toBe('http://user:pw@10.0.0.5:8080/live.m3u8?token=abcdef');
    expect(spec.hostHeader).toBe('cam.example:8080');
    expect(spec.display).toBe('http://***:***@cam.example:8080/live.m3u8?token=***');
    const rtsp = await checkInput('rtsp://cam.example/s', { purpose: 'camera', resolve });
    expect(rtsp.spec.ffmpegInput).toBe('rtsp://10.0.0.5/s');
  });

  it('a refused literal IP never opens a socket; an allowed loopback target is not touched by the check either', async () => {
    let connections = 0;
    server = net.createServer((s) => {
      connections++;
      s.destroy();
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as net.AddressInfo).port;
    // Replays without an allow-list: loopback is refused before anything connects.
    expect(await rule(checkInput(`rtsp://127.0.0.1:${port}/x`, { purpose: 'replay' }))).toBe('loopback');
    expect(await rule(checkInput(`http://[::ffff:127.0.0.1]:${port}/a.m3u8`, { purpose: 'replay' }))).toBe('loopback');
    expect(await rule(checkInput('rtsp://169.254.169.254/x', { purpose: 'camera' }))).toBe('metadata');
    await new Promise((r) => setTimeout(r, 50)); // give a stray connect the chance to be counted
    expect(connections).toBe(0);
  });
});

describe('one redaction', () => {
  it('removes userinfo and secret-looking or marked query values', () => {
    expect(redactUrl('rtsp://admin:p%40ss@h/s?channel=1&authtoken=XYZ123')).toBe('rtsp://***:***@h/s?channel=1&authtoken=***');
    expect(redactUrl('https://cdn/x/live.m3u8?X-Amz-Signature=abc&X-Amz-Credential=AKIA%2F1&expires=9')).toBe(
      'https://cdn/x/live.m3u8?X-Amz-Signature=***&X-Amz-Credential=***&expires=9',
    );
    expect(redactUrl('http://h/a.m3u8?cam=3&code=s3cr3t', ['code'])).toBe('http://h/a.m3u8?cam=3&code=***');
    expect(redactUrl('/var/clips/a.mp4')).toBe('/var/clips/a.mp4');
  });
  it('scrubs secrets from tool output in any spelling', () => {
    const spec = parseInput('rtsp://admin:p%40ss@10.0.0.5/ch1?authtoken=SeCrEt99&code=ZZTOP1', { secretParams: ['code'] });
    expect(spec.secrets).toEqual(expect.arrayContaining(['p%40ss', 'p@ss', 'SeCrEt99', 'ZZTOP1', 'admin']));
    const noisy = [
      'rtsp://admin:p%40ss@10.0.0.5/ch1?authtoken=SeCrEt99&code=ZZTOP1: 401 Unauthorized',
      '[rtsp @ 0x1] method DESCRIBE failed for /ch1?authtoken=SeCrEt99',
      'user admin password p@ss rejected; code ZZTOP1',
    ].join('\n');
    const out = scrubSecrets(noisy, spec);
    for (const s of ['p%40ss', 'p@ss', 'SeCrEt99', 'ZZTOP1', 'admin']) expect(out).not.toContain(s);
    // Without a spec: URLs with secrets are still redacted, plain text is left alone.
    expect(scrubSecrets('GET https://h/x.m3u8?access_token=T0K3N failed; see http://h/ok.m3u8')).toBe(
      'GET https://h/x.m3u8?access_token=*** failed; see http://h/ok.m3u8',
    );
    expect(secretsOf('http://h/a.m3u8?token=ab')).toEqual([]); // too short to scrub safely
  });
});
