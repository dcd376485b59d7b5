// The outbound policy: which destinations Weft may send step, compensation and
// webhook requests to. A preset (default | public-only) plus configured allow
// and deny entries (CIDRs, addresses, host names, `*.example.com` suffixes).
//
// Decisions:
// - Allow entries beat deny entries, the preset's and the configured ones alike:
//   a team allows one internal host or CIDR under public-only.
// - A host name matched by an allow entry is allowed whatever it resolves to; one
//   matched by a deny entry is denied without resolving; any other name is
//   decided by the addresses it resolves to (every one must be allowed).
// - An IPv6 address that carries an IPv4 one (IPv4-mapped ::ffff:0:0/96,
//   IPv4-compatible ::/96, IPv4-translated ::ffff:0:0:0/96, NAT64 64:ff9b::/96)
//   is also checked as that IPv4 address: denied if either form is denied.
// - Azure's wireserver 168.63.129.16 is denied by both presets: it is a
//   platform endpoint (VM agent, extension settings, DNS) reachable from every
//   Azure VM, never a job handler, and public-only would not catch it (it is not
//   in a special-purpose block).
// - Host names compare case-insensitively without a trailing dot
//   (`Metadata.Google.Internal.` is `metadata.google.internal`).
//
// Pure: matching uses node:net's BlockList (no I/O).
import { BlockList, isIP } from "node:net";

export type OutboundPreset = "default" | "public-only";
export const OUTBOUND_PRESETS: readonly OutboundPreset[] = ["default", "public-only"];

/** Denied by both presets: link-local, cloud metadata, unspecified, multicast, broadcast. */
export const DEFAULT_DENY: readonly string[] = [
  "169.254.0.0/16", // link-local (AWS, GCP, Azure, OpenStack, Oracle metadata at 169.254.169.254)
  "fe80::/10", // link-local
  "fd00:ec2::254/128", // AWS metadata over IPv6
  "100.100.100.200/32", // Alibaba Cloud metadata
  "168.63.129.16/32", // Azure wireserver
  "0.0.0.0/8", // "this network", unspecified
  "::/128", // unspecified
  "224.0.0.0/4", // multicast
  "ff00::/8", // multicast
  "255.255.255.255/32", // limited broadcast
  "metadata.google.internal",
  "metadata.goog",
];

/** Denied by public-only besides DEFAULT_DENY: the special-purpose blocks that are not globally reachable. */
export const PUBLIC_ONLY_DENY: readonly string[] = [
  "127.0.0.0/8", // loopback
  "10.0.0.0/8", // private
  "172.16.0.0/12", // private
  "192.168.0.0/16", // private
  "100.64.0.0/10", // shared address space (CGNAT)
  "192.0.0.0/24", // IETF protocol assignments
  "192.0.2.0/24", // documentation (TEST-NET-1)
  "198.51.100.0/24", // documentation (TEST-NET-2)
  "203.0.113.0/24", // documentation (TEST-NET-3)
  "198.18.0.0/15", // benchmarking
  "192.88.99.0/24", // 6to4 relay anycast (deprecated)
  "240.0.0.0/4", // reserved
  "::1/128", // loopback
  "fc00::/7", // unique local
  "fec0::/10", // site-local (deprecated)
  "100::/64", // discard-only
  "64:ff9b:1::/48", // local-use IPv4/IPv6 translation
  "2001:2::/48", // benchmarking
  "2001:db8::/32", // documentation
  "3fff::/20", // documentation
  "localhost",
  "*.localhost",
];

export type Verdict = { allowed: true } | { allowed: false; rule: string };
/** For a host name: decided by its name, or to be decided by the addresses it resolves to. */
export type NameVerdict = Verdict | { resolve: true };

const ALLOWED: Verdict = { allowed: true };
const RESOLVE: NameVerdict = { resolve: true };

export class OutboundPolicyError extends Error {}

interface AddressRule {
  text: string;
  list: BlockList;
}

class RuleSet {
  readonly addresses: AddressRule[] = [];
  /** All address rules together: the fast path. */
  readonly all = new BlockList();
  readonly names = new Set<string>();
  /** `*.example.com` entries, stored as ".example.com". */
  readonly suffixes: string[] = [];

  add(entry: string): void {
    const e = entry.trim().toLowerCase();
    if (e === "") return;
    const cidr = parseCidr(e);
    if (cidr !== undefined) {
      const one = new BlockList();
      one.addSubnet(cidr.address, cidr.prefix, cidr.family);
      this.all.addSubnet(cidr.address, cidr.prefix, cidr.family);
      this.addresses.push({ text: `${cidr.address}/${cidr.prefix}`, list: one });
      return;
    }
    if (e.includes("/") || e.includes(":")) throw new OutboundPolicyError(`"${short(entry)}" is not a valid CIDR or address`);
    const wildcard = e.startsWith("*.");
    const name = normaliseName(wildcard ? e.slice(2) : e);
    if (!HOST_NAME.test(name) || /^([0-9]+|0x[0-9a-f]*)$/.test(name.slice(name.lastIndexOf(".") + 1))) throw new OutboundPolicyError(`"${short(entry)}" is not a CIDR, an address or a host name`);
    if (wildcard) this.suffixes.push(`.${name}`);
    else this.names.add(name);
  }

  /** The matching entry for a normalised host name. */
  matchName(name: string): string | undefined {
    if (this.names.has(name)) return name;
    for (const s of this.suffixes) if (name.endsWith(s)) return `*${s}`;
    return undefined;
  }

  matches(candidates: Candidate[]): boolean {
    return candidates.some((c) => this.all.check(c.address, c.family));
  }

  matchAddress(candidates: Candidate[]): string | undefined {
    for (const c of candidates) {
      if (!this.all.check(c.address, c.family)) continue;
      for (const r of this.addresses) if (r.list.check(c.address, c.family)) return r.text;
    }
    return undefined;
  }
}

export interface OutboundPolicyOptions {
  preset?: OutboundPreset;
  allow?: readonly string[];
  deny?: readonly string[];
}

export class OutboundPolicy {
  readonly preset: OutboundPreset;
  private readonly allow = new RuleSet();
  private readonly deny = new RuleSet();

  /** Throws OutboundPolicyError on an entry that is not a CIDR, address or host name. */
  constructor(options: OutboundPolicyOptions = {}) {
    this.preset = options.preset ?? "default";
    if (!OUTBOUND_PRESETS.includes(this.preset)) throw new OutboundPolicyError(`unknown preset "${short(this.preset)}"`);
    for (const e of options.allow ?? []) this.allow.add(e);
    for (const e of DEFAULT_DENY) this.deny.add(e);
    if (this.preset === "public-only") for (const e of PUBLIC_ONLY_DENY) this.deny.add(e);
    for (const e of options.deny ?? []) this.deny.add(e);
  }

  /** An IP address (IPv6 without brackets); anything else is denied. */
  checkAddress(address: string): Verdict {
    const candidates = addressCandidates(address);
    if (candidates === undefined) return { allowed: false, rule: "not an IP address" };
    if (this.allow.matches(candidates)) return ALLOWED;
    const rule = this.deny.matchAddress(candidates);
    return rule === undefined ? ALLOWED : { allowed: false, rule };
  }

  /** A host name (not an address): allowed or denied by name, or to be decided by its addresses. */
  checkName(hostName: string): NameVerdict {
    const name = normaliseName(hostName.toLowerCase());
    if (this.allow.matchName(name) !== undefined) return RESOLVE_ALLOWED;
    const rule = this.deny.matchName(name);
    return rule === undefined ? RESOLVE : { allowed: false, rule };
  }

  /** A URL's host (a WHATWG `hostname`: IPv6 in brackets): the verdict, or resolve when it is a name left to its addresses. */
  checkHost(hostname: string): NameVerdict {
    const bare = hostname.startsWith("[") && hostname.endsWith("]") ? hostname.slice(1, -1) : hostname;
    return isIP(bare) !== 0 ? this.checkAddress(bare) : this.checkName(bare);
  }
}

/** A name allowed by an allow entry: its addresses are not checked. */
const RESOLVE_ALLOWED: NameVerdict = ALLOWED;

export function describeDenial(rule: string): string {
  return `destination denied by the outbound policy: ${rule}`;
}

// ---------------------------------------------------------------------------

const HOST_NAME = /^(?=.{1,253}$)([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*$/;

function normaliseName(name: string): string {
  return name.endsWith(".") ? name.slice(0, -1) : name;
}

function short(s: string): string {
  return s.length <= 80 ? s : `${s.slice(0, 80)}…`;
}

interface Candidate {
  address: string;
  family: "ipv4" | "ipv6";
}

function parseCidr(e: string): { address: string; prefix: number; family: "ipv4" | "ipv6" } | undefined {
  const slash = e.indexOf("/");
  const address = slash < 0 ? e : e.slice(0, slash);
  const v = isIP(address);
  if (v === 0) return undefined;
  const max = v === 4 ? 32 : 128;
  let prefix = max;
  if (slash >= 0) {
    const p = e.slice(slash + 1);
    if (!/^\d{1,3}$/.test(p) || Number(p) > max) throw new OutboundPolicyError(`"${short(e)}" has an invalid prefix length`);
    prefix = Number(p);
  }
  return { address, prefix, family: v === 4 ? "ipv4" : "ipv6" };
}

/** The address and, for an IPv6 address carrying an IPv4 one, that IPv4 address; undefined when not an address. */
function addressCandidates(address: string): Candidate[] | undefined {
  const v = isIP(address);
  if (v === 4) return [{ address, family: "ipv4" }];
  if (v !== 6) return undefined;
  const own: Candidate = { address, family: "ipv6" };
  const v4 = embeddedIPv4(address);
  return v4 === undefined ? [own] : [own, { address: v4, family: "ipv4" }];
}

/** The 16 bytes of a valid IPv6 address (dotted IPv4 tail allowed). */
export function ipv6Bytes(address: string): Uint8Array {
  let s = address.toLowerCase();
  const bytes = new Uint8Array(16);
  const tail: number[] = [];
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(s);
  if (dotted) {
    tail.push(...dotted.slice(1, 5).map(Number));
    s = s.slice(0, dotted.index) + "0:0";
  }
  const [head, rest] = s.includes("::") ? s.split("::") : [s, undefined];
  const h = head === "" ? [] : head.split(":");
  const r = rest === undefined || rest === "" ? [] : rest.split(":");
  const groups = rest === undefined ? h : [...h, ...new Array<string>(8 - h.length - r.length).fill("0"), ...r];
  groups.forEach((g, i) => {
    const n = parseInt(g, 16);
    bytes[2 * i] = n >> 8;
    bytes[2 * i + 1] = n & 0xff;
  });
  if (tail.length === 4) bytes.set(tail, 12);
  return bytes;
}

/**
 * The IPv4 address an IPv6 address carries: IPv4-mapped (::ffff:a.b.c.d),
 * IPv4-compatible (::a.b.c.d, not :: or ::1), IPv4-translated (::ffff:0:a.b.c.d)
 * or NAT64 (64:ff9b::a.b.c.d); undefined for any other address.
 */
export function embeddedIPv4(address: string): string | undefined {
  if (isIP(address) !== 6) return undefined;
  const b = ipv6Bytes(address);
  const zero = (from: number, to: number) => b.subarray(from, to).every((x) => x === 0);
  const v4 = `${b[12]}.${b[13]}.${b[14]}.${b[15]}`;
  if (zero(0, 10) && b[10] === 0xff && b[11] === 0xff) return v4; // ::ffff:0:0/96
  if (zero(0, 8) && b[8] === 0xff && b[9] === 0xff && zero(10, 12)) return v4; // ::ffff:0:0:0/96
  if (zero(0, 12) && !zero(12, 15)) return v4; // ::/96 except :: and ::1 (and ::0.0.0.x)
  if (b[0] === 0x00 && b[1] === 0x64 && b[2] === 0xff && b[3] === 0x9b && zero(4, 12)) return v4; // 64:ff9b::/96
  return undefined;
}
