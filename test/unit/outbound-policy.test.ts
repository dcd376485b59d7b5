import { describe, expect, test } from "vitest";
import { embeddedIPv4, OutboundPolicy, OutboundPolicyError } from "../../src/domain/outbound-policy.ts";

const denied = (rule: string) => ({ allowed: false, rule });
const ALLOWED = { allowed: true };

describe("default preset", () => {
  const p = new OutboundPolicy();

  test.each([
    ["169.254.169.254", "169.254.0.0/16"], // AWS, GCP, Azure, OpenStack, Oracle metadata
    ["169.254.1.1", "169.254.0.0/16"],
    ["fe80::1", "fe80::/10"],
    ["fd00:ec2::254", "fd00:ec2::254/128"],
    ["100.100.100.200", "100.100.100.200/32"],
    ["168.63.129.16", "168.63.129.16/32"],
    ["0.0.0.0", "0.0.0.0/8"],
    ["0.1.2.3", "0.0.0.0/8"],
    ["::", "::/128"],
    ["224.0.0.1", "224.0.0.0/4"],
    ["239.255.255.250", "224.0.0.0/4"],
    ["ff02::1", "ff00::/8"],
    ["255.255.255.255", "255.255.255.255/32"],
  ])("denies %s (%s)", (address, rule) => {
    expect(p.checkAddress(address)).toEqual(denied(rule));
  });

  test.each(["127.0.0.1", "127.8.9.10", "::1", "10.0.0.1", "172.16.0.1", "192.168.1.1", "100.64.0.1", "fd12::1", "8.8.8.8", "2606:4700::1111"])(
    "allows %s (loopback and private ranges are allowed for local development)",
    (address) => {
      expect(p.checkAddress(address)).toEqual(ALLOWED);
    },
  );

  test("IPv4-mapped, compatible, translated and NAT64 IPv6 addresses are checked as their IPv4 address", () => {
    expect(p.checkAddress("::ffff:169.254.169.254")).toEqual(denied("169.254.0.0/16"));
    expect(p.checkAddress("::ffff:a9fe:a9fe")).toEqual(denied("169.254.0.0/16"));
    expect(p.checkAddress("::169.254.169.254")).toEqual(denied("169.254.0.0/16"));
    expect(p.checkAddress("::ffff:0:169.254.169.254")).toEqual(denied("169.254.0.0/16"));
    expect(p.checkAddress("64:ff9b::169.254.169.254")).toEqual(denied("169.254.0.0/16"));
    expect(p.checkAddress("::ffff:100.100.100.200")).toEqual(denied("100.100.100.200/32"));
    expect(p.checkAddress("::ffff:8.8.8.8")).toEqual(ALLOWED);
  });

  test("cloud metadata host names are denied by name, also with a trailing dot or in capitals; other names are left to their addresses", () => {
    expect(p.checkName("metadata.google.internal")).toEqual(denied("metadata.google.internal"));
    expect(p.checkName("Metadata.Google.Internal.")).toEqual(denied("metadata.google.internal"));
    expect(p.checkName("localhost")).toEqual({ resolve: true });
    expect(p.checkName("myapp.com")).toEqual({ resolve: true });
  });

  test("checkHost takes a URL hostname: IPv6 in brackets, or a name", () => {
    expect(p.checkHost("[fd00:ec2::254]")).toEqual(denied("fd00:ec2::254/128"));
    expect(p.checkHost("169.254.169.254")).toEqual(denied("169.254.0.0/16"));
    expect(p.checkHost("myapp.com")).toEqual({ resolve: true });
  });

  test("anything that is not an address is denied by checkAddress", () => {
    expect(p.checkAddress("myapp.com").allowed).toBe(false);
    expect(p.checkAddress("127.1").allowed).toBe(false);
  });
});

describe("public-only preset", () => {
  const p = new OutboundPolicy({ preset: "public-only" });

  test.each([
    ["127.0.0.1", "127.0.0.0/8"],
    ["127.255.0.1", "127.0.0.0/8"],
    ["::1", "::1/128"],
    ["10.1.2.3", "10.0.0.0/8"],
    ["172.16.0.1", "172.16.0.0/12"],
    ["172.31.255.255", "172.16.0.0/12"],
    ["192.168.0.1", "192.168.0.0/16"],
    ["100.64.0.1", "100.64.0.0/10"],
    ["100.127.255.255", "100.64.0.0/10"],
    ["192.0.0.8", "192.0.0.0/24"],
    ["192.0.2.1", "192.0.2.0/24"],
    ["198.51.100.1", "198.51.100.0/24"],
    ["203.0.113.1", "203.0.113.0/24"],
    ["198.18.0.1", "198.18.0.0/15"],
    ["198.19.255.1", "198.18.0.0/15"],
    ["192.88.99.1", "192.88.99.0/24"],
    ["240.0.0.1", "240.0.0.0/4"],
    ["fc00::1", "fc00::/7"],
    ["fd12:3456::1", "fc00::/7"],
    ["fec0::1", "fec0::/10"],
    ["100::1", "100::/64"],
    ["64:ff9b:1::1", "64:ff9b:1::/48"],
    ["2001:2::1", "2001:2::/48"],
    ["2001:db8::1", "2001:db8::/32"],
    ["3fff::1", "3fff::/20"],
    ["::ffff:127.0.0.1", "127.0.0.0/8"],
    ["::ffff:10.0.0.1", "10.0.0.0/8"],
    ["64:ff9b::10.0.0.1", "10.0.0.0/8"],
    // and the default preset's
    ["169.254.169.254", "169.254.0.0/16"],
    ["fd00:ec2::254", "fc00::/7"],
  ])("denies %s (%s)", (address, rule) => {
    const v = p.checkAddress(address);
    expect(v.allowed).toBe(false);
    // fd00:ec2::254 is in two rules; either may be named.
    if (address !== "fd00:ec2::254") expect(v).toEqual(denied(rule));
  });

  test.each(["8.8.8.8", "1.1.1.1", "172.15.255.255", "172.32.0.1", "100.63.255.255", "100.128.0.1", "2606:4700::1111", "64:ff9b::8.8.8.8"])(
    "allows the public address %s",
    (address) => {
      expect(p.checkAddress(address)).toEqual(ALLOWED);
    },
  );

  test("localhost and *.localhost are denied by name", () => {
    expect(p.checkName("localhost")).toEqual(denied("localhost"));
    expect(p.checkName("api.localhost")).toEqual(denied("*.localhost"));
    expect(p.checkName("localhost.example.com")).toEqual({ resolve: true });
  });
});

describe("allow and deny entries", () => {
  test("allow beats deny: one internal host or CIDR under public-only, even inside a denied block", () => {
    const p = new OutboundPolicy({ preset: "public-only", allow: ["10.1.2.3", "192.168.7.0/24", "fd00:ec2::254"], deny: ["10.1.2.0/24"] });
    expect(p.checkAddress("10.1.2.3")).toEqual(ALLOWED);
    expect(p.checkAddress("::ffff:10.1.2.3")).toEqual(ALLOWED);
    expect(p.checkAddress("10.1.2.4")).toEqual(denied("10.0.0.0/8"));
    expect(p.checkAddress("192.168.7.99")).toEqual(ALLOWED);
    expect(p.checkAddress("192.168.8.1")).toEqual(denied("192.168.0.0/16"));
    expect(p.checkAddress("fd00:ec2::254")).toEqual(ALLOWED);
  });

  test("host names: exact names and *.suffix; an allowed name is not resolved for a check, a denied one is refused", () => {
    const p = new OutboundPolicy({ preset: "public-only", allow: ["jobs.internal", "*.corp.example"], deny: ["evil.example", "*.bad.example"] });
    expect(p.checkName("jobs.internal")).toEqual(ALLOWED);
    expect(p.checkName("JOBS.internal.")).toEqual(ALLOWED);
    expect(p.checkName("a.b.corp.example")).toEqual(ALLOWED);
    expect(p.checkName("corp.example")).toEqual({ resolve: true });
    expect(p.checkName("evil.example")).toEqual(denied("evil.example"));
    expect(p.checkName("x.bad.example")).toEqual(denied("*.bad.example"));
    expect(p.checkName("notbad.example")).toEqual({ resolve: true });
  });

  test("allow entries beat the preset's host names too", () => {
    const p = new OutboundPolicy({ preset: "public-only", allow: ["localhost"] });
    expect(p.checkName("localhost")).toEqual(ALLOWED);
  });

  test("a configured deny entry adds to the default preset", () => {
    const p = new OutboundPolicy({ deny: ["127.0.0.1/32", "::1"] });
    expect(p.checkAddress("127.0.0.1")).toEqual(denied("127.0.0.1/32"));
    expect(p.checkAddress("::ffff:127.0.0.1")).toEqual(denied("127.0.0.1/32"));
    expect(p.checkAddress("::1")).toEqual(denied("::1/128"));
    expect(p.checkAddress("127.0.0.2")).toEqual(ALLOWED);
  });

  test("entries that are not a CIDR, an address or a host name are refused", () => {
    for (const bad of ["10.0.0.0/33", "fe80::/129", "10.0.0.0/x", "300.1.1.1", "a b", "http://x.com", "*", "**.x.com", "x..com", "1.2.3.4/8/9"]) {
      expect(() => new OutboundPolicy({ deny: [bad] }), bad).toThrow(OutboundPolicyError);
    }
    expect(() => new OutboundPolicy({ preset: "strict" as never })).toThrow(OutboundPolicyError);
  });
});

describe("embeddedIPv4", () => {
  test.each([
    ["::ffff:1.2.3.4", "1.2.3.4"],
    ["::ffff:102:304", "1.2.3.4"],
    ["::1.2.3.4", "1.2.3.4"],
    ["::ffff:0:1.2.3.4", "1.2.3.4"],
    ["64:ff9b::1.2.3.4", "1.2.3.4"],
    ["::1", undefined],
    ["::", undefined],
    ["2001:db8::1.2.3.4", undefined],
    ["1.2.3.4", undefined],
  ])("%s -> %s", (address, v4) => {
    expect(embeddedIPv4(address)).toBe(v4);
  });
});
