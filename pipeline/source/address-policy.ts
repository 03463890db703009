// Which network addresses ffmpeg may be pointed at (SSRF guard). Called before any connection: the
// host of an input is resolved, every address it resolves to is checked, and the input is rewritten
// to connect to the checked address (DNS pinning), so a name that resolves to a harmless address for
// the check and to the metadata service a moment later (DNS rebinding) gains nothing.
//
// Rules, in order:
//   metadata    cloud metadata names/addresses: always refused.
//   link-local  169.254.0.0/16, fe80::/10: always refused (that is where metadata services live).
//   unspecified 0.0.0.0, :: (connects to this host), broadcast and multicast: always refused.
//   private     RFC 1918, fc00::/7, 100.64.0.0/10 and reserved ranges: allowed for cameras (cameras
//               live there); refused for replays unless an allow-list CIDR covers the address.
//   loopback    127.0.0.0/8, ::1: as private.
// Pinning limits (documented in README): https HLS keeps its host name, because ffmpeg's TLS
// client cannot send an SNI name different from the URL host; and segment URLs inside an HLS
// playlist are fetched by ffmpeg without passing through this check.
import { lookup } from 'node:dns/promises';
import ipaddr from 'ipaddr.js';
import { InputError, parseInput, type InputSpec, type ParseInputOptions } from './input-url.js';

export type AddressPurpose = 'camera' | 'replay';
export type AddressRule = 'metadata' | 'link-local' | 'unspecified' | 'private' | 'loopback' | 'unresolvable';

export class AddressPolicyError extends InputError {
  override name = 'AddressPolicyError';
  constructor(
    readonly rule: AddressRule,
    message: string,
  ) {
    super(message);
  }
}

export type Resolver = (host: string) => Promise<Array<{ address: string; family: number }>>;

export const systemResolver: Resolver = (host) =>
  // IPv4 first: servers that listen on 127.0.0.1 only are common.
  lookup(host, { all: true, verbatim: false });

export interface AddressPolicyOptions {
  purpose: AddressPurpose;
  /** CIDRs that private/loopback replay targets may use (REPLAY_ALLOW_CIDRS). */
  allowCidrs?: readonly string[];
  /** Injected in tests so no name is ever resolved on the network. */
  resolve?: Resolver;
}

const METADATA_NAMES = new Set([
  'metadata.google.internal',
  'metadata.goog',
  'metadata',
  'instance-data',
  'instance-data.ec2.internal',
  'metadata.azure.internal',
]);
const METADATA_ADDRESSES = ['169.254.169.254', '169.254.170.2', '169.254.169.123', 'fd00:ec2::254', '100.100.100.200', '192.0.0.192'].map(
  (a) => ipaddr.parse(a).toNormalizedString(),
);

/** Parses a comma/space separated CIDR list; throws on a malformed entry (a typo must not open everything). */
export function parseCidrs(text: string | undefined): string[] {
  const out: string[] = [];
  for (const part of (text ?? '').split(/[,\s]+/).filter(Boolean)) {
    try {
      ipaddr.parseCIDR(part);
    } catch {
      throw new Error(`REPLAY_ALLOW_CIDRS: "${part}" is not a CIDR (e.g. 10.20.0.0/16 or 127.0.0.1/32)`);
    }
    out.push(part);
  }
  return out;
}

function normalise(address: string): ipaddr.IPv4 | ipaddr.IPv6 {
  // process() turns ::ffff:169.254.169.254 into the IPv4 address it stands for.
  return ipaddr.process(address);
}

/** The rule that refuses `address` for `purpose`, or null when it is allowed. */
export function refusedBy(address: string, opts: Pick<AddressPolicyOptions, 'purpose' | 'allowCidrs'>): AddressRule | null {
  let ip: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    ip = normalise(address);
  } catch {
    return 'unresolvable';
  }
  if (METADATA_ADDRESSES.includes(ip.toNormalizedString())) return 'metadata';
  const range = ip.range();
  if (range === 'linkLocal') return 'link-local';
  if (range === 'unspecified' || range === 'broadcast' || range === 'multicast') return 'unspecified';
  if (opts.purpose === 'camera') return null;
  if (range === 'unicast') return null;
  const allowed = (opts.allowCidrs ?? []).some((c) => {
    const [net, bits] = ipaddr.parseCIDR(c);
    return net.kind() === ip.kind() && ip.match(net, bits);
  });
  if (allowed) return null;
  return range === 'loopback' ? 'loopback' : 'private';
}

const RULE_TEXT: Record<AddressRule, string> = {
  metadata: 'cloud metadata services are never reachable',
  'link-local': 'link-local addresses (169.254.0.0/16, fe80::/10) are never reachable',
  unspecified: 'unspecified, broadcast and multicast addresses are not stream hosts',
  private: 'private addresses are not allowed for this input (REPLAY_ALLOW_CIDRS lists the exceptions)',
  loopback: 'loopback addresses are not allowed for this input (REPLAY_ALLOW_CIDRS lists the exceptions)',
  unresolvable: 'the host name does not resolve',
};

export interface CheckedInput {
  spec: InputSpec;
  /** The address ffmpeg will connect to ('' for files). */
  address: string;
}

/**
 * Classifies `raw` (parseInput), resolves its host, applies the policy and returns a spec pinned to
 * the checked address. Files pass through untouched (parseInput's allowFiles decides about them).
 */
export async function checkInput(raw: string, policy: AddressPolicyOptions, parse: ParseInputOptions = {}): Promise<CheckedInput> {
  const spec = parseInput(raw, parse);
  if (spec.kind === 'file') return { spec, address: '' };
  const host = spec.host.toLowerCase().replace(/\.$/, '');
  const refuse = (rule: AddressRule, detail: string): never => {
    throw new AddressPolicyError(rule, `address policy "${rule}": ${RULE_TEXT[rule]} (${detail}, ${policy.purpose} input ${spec.display})`);
  };
  if (METADATA_NAMES.has(host)) refuse('metadata', host);
  let addresses: string[];
  if (ipaddr.isValid(host)) addresses = [host];
  else {
    try {
      addresses = (await (policy.resolve ?? systemResolver)(host)).map((a) => a.address);
    } catch (err) {
      return refuse('unresolvable', `${host}: ${(err as NodeJS.ErrnoException).code ?? 'lookup failed'}`);
    }
    if (addresses.length === 0) refuse('unresolvable', host);
  }
  // Every address must pass: ffmpeg (or a later lookup) could pick any of them.
  for (const a of addresses) {
    const rule = refusedBy(a, policy);
    if (rule) refuse(rule, `${host} → ${a}`);
  }
  const address = normalise(addresses[0]!).toString();
  if (ipaddr.isValid(host) || (spec.kind === 'hls' && /^https:/i.test(raw))) return { spec, address };
  const u = new URL(raw);
  u.hostname = address.includes(':') ? `[${address}]` : address;
  const pinned = parseInput(u.toString(), { ...parse, hostHeader: u.port ? `${host}:${u.port}` : host });
  // Show and scrub as the operator wrote it; connect to the address that was checked.
  return { spec: { ...pinned, display: spec.display, host: spec.host, secrets: spec.secrets }, address };
}

/** REPLAY_ALLOW_CIDRS from the environment, parsed once per call. */
export function replayAllowCidrsFromEnv(env: NodeJS.ProcessEnv = process.env): string[] {
  return parseCidrs(env.REPLAY_ALLOW_CIDRS);
}
