// Rules for the host part of a submitted absolute URL (steps[i].url,
// steps[i].compensation, on_complete, on_error, base_url), checked at
// CreateWorkflow before anything is stored.
//
// Decisions:
// - The WHATWG URL parser normalises many host forms into an IPv4 address
//   (`127.1`, `2130706433`, `0x7f.0.0.1`, `0177.0.0.1`, `127.0.0.1.`,
//   `%31%32%37.0.0.1`, full-width digits), so the rule is decided on the raw
//   host text: a literal IPv4 address must be written as four decimal octets
//   without leading zeros, exactly as the parser serialises it.
// - User info (`user:pass@`, `user@`, even an empty `@`) is refused: credentials
//   in a URL are kept in the run and shown by GetWorkflow; use signing instead.
// - `%` in a host (percent-encoding, IPv6 zone ids) is refused, and so is any
//   form other than "scheme://host": "http:x", "http:///x", "http:\\x" all reach
//   host x in WHATWG but are read differently by other parsers (and people).
// - IPv6 literals that carry an IPv4 address (::ffff:a.b.c.d and the like) are
//   refused: write the IPv4 address itself.
// - A literal address the outbound policy denies is refused here; host names the
//   policy denies by name too. Other names are checked when connecting.
//
// Pure: no I/O.
import { isIP } from "node:net";
import { describeDenial, embeddedIPv4, type OutboundPolicy } from "./outbound-policy.ts";

const IPV4_OCTET = "(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])";
const CANONICAL_IPV4 = new RegExp(`^${IPV4_OCTET}(\\.${IPV4_OCTET}){3}$`);
/** Exactly two slashes after the scheme (WHATWG also reads "http:/x", "http:///x" and "http:\\\\x" as host x). */
const SCHEME_SLASHES = /^[a-z][a-z0-9+.-]*:\/\/(?![/\\])/i;
/** The WHATWG "ends in a number" test: such a host is parsed as an IPv4 address. */
const NUMERIC_LABEL = /^([0-9]+|0x[0-9a-f]*)$/i;

/**
 * Why the URL's host is refused, or undefined when it is acceptable. `raw` is
 * the submitted absolute URL, `url` its parse.
 */
export function checkUrlHost(raw: string, url: URL, policy: OutboundPolicy): string | undefined {
  const m = SCHEME_SLASHES.exec(raw);
  if (!m) return 'must start with "http://" or "https://" followed by the host';
  const authority = rawAuthority(raw.slice(m[0].length));
  if (authority.includes("@") || url.username !== "" || url.password !== "") {
    return "must not contain user info (user:password@); handlers verify Weft's signature instead";
  }
  const host = rawHost(authority);
  if (host === "" || url.hostname === "") return "must have a host";
  if (host.includes("%")) return "host must not contain '%' (percent-encoding or an IPv6 zone id)";

  const parsed = url.hostname;
  if (parsed.startsWith("[")) {
    const v4 = embeddedIPv4(parsed.slice(1, -1));
    if (v4 !== undefined && isIPv4Hiding(parsed.slice(1, -1))) {
      return `IPv6 address ${quote(host)} carries the IPv4 address ${v4}: write the IPv4 address itself`;
    }
  } else if (isIP(parsed) === 4 || endsInNumber(host)) {
    // The parser read the host as an IPv4 address: it must have been written canonically.
    if (!CANONICAL_IPV4.test(host) || host !== parsed) {
      return `host ${quote(host)} is not a plain IPv4 address: write four decimal numbers 0-255 without leading zeros (a.b.c.d)`;
    }
  }

  const verdict = policy.checkHost(parsed);
  if ("allowed" in verdict && !verdict.allowed) return describeDenial(verdict.rule);
  return undefined;
}

/** Mapped, compatible and translated forms (NAT64 prefixes are left to the policy). */
function isIPv4Hiding(address: string): boolean {
  return !/^0*64:ff9b:/i.test(address);
}

/** The text up to the path, query or fragment; a backslash ends it as WHATWG does. */
function rawAuthority(rest: string): string {
  const end = rest.search(/[/\\?#]/);
  return end < 0 ? rest : rest.slice(0, end);
}

/** The host of an authority without user info (already refused) and port. */
function rawHost(authority: string): string {
  const a = authority.slice(authority.lastIndexOf("@") + 1);
  if (a.startsWith("[")) {
    const close = a.indexOf("]");
    return close < 0 ? a : a.slice(0, close + 1);
  }
  const colon = a.indexOf(":");
  return (colon < 0 ? a : a.slice(0, colon)).toLowerCase();
}

function endsInNumber(host: string): boolean {
  const labels = host.split(".");
  if (labels[labels.length - 1] === "" && labels.length > 1) labels.pop();
  return NUMERIC_LABEL.test(labels[labels.length - 1]);
}

function quote(s: string): string {
  return s.length <= 80 ? JSON.stringify(s) : `${JSON.stringify(s.slice(0, 80)).slice(0, -1)}…"`;
}
