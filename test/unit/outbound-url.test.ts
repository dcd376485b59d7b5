// URL host rules at CreateWorkflow (src/domain/outbound-url.ts), through
// compileWorkflow so that each violation is checked with its field path.
import { describe, expect, test } from "vitest";
import { compileWorkflow } from "../../src/domain/compile-workflow.ts";
import { OutboundPolicy } from "../../src/domain/outbound-policy.ts";
import type { FieldViolation, StepInput, WorkflowInput } from "../../src/domain/workflow-spec.ts";
import { DEFAULT_LIMITS } from "../../src/domain/workflow-spec.ts";

const NOT_PLAIN = "is not a plain IPv4 address: write four decimal numbers 0-255 without leading zeros (a.b.c.d)";
const USER_INFO = "must not contain user info (user:password@); handlers verify Weft's signature instead";

function input(url: string, extra: Partial<WorkflowInput> = {}, step: Partial<StepInput> = {}): WorkflowInput {
  return {
    id: "wf",
    steps: [{ id: "a", url, dependsOn: [], parallel: false, compensation: "", ...step }],
    onComplete: "",
    onError: "",
    saga: false,
    baseUrl: "",
    requestId: "",
    ...extra,
  };
}

function check(w: WorkflowInput, policy?: OutboundPolicy): FieldViolation[] {
  const r = compileWorkflow(w, { ...DEFAULT_LIMITS, outbound: policy });
  return r.ok ? [] : r.violations;
}

const urlViolation = (url: string, policy?: OutboundPolicy) => check(input(url), policy);

describe("user info is refused", () => {
  test.each(["http://user:pass@myapp.com/x", "http://user@myapp.com/x", "http://:pass@myapp.com/x", "http://@myapp.com/x", "https://a%40b@myapp.com/"])(
    "%s",
    (url) => {
      expect(urlViolation(url)).toEqual([{ field: "steps[0].url", description: USER_INFO }]);
    },
  );
});

describe("odd IPv4 host forms are refused: a literal IPv4 address is four decimal octets without leading zeros", () => {
  test.each([
    ["http://2130706433/", "2130706433"],
    ["http://0x7f000001/", "0x7f000001"],
    ["http://127.1/", "127.1"],
    ["http://127.0.1/", "127.0.1"],
    ["http://0177.0.0.1/", "0177.0.0.1"],
    ["http://0x7f.0.0.1/", "0x7f.0.0.1"],
    ["http://0X7F.0.0.1/", "0x7f.0.0.1"],
    ["http://169.254.43518/", "169.254.43518"],
    ["http://01.2.3.4/", "01.2.3.4"],
    ["http://127.0.0.1./", "127.0.0.1."],
    ["http://１２７.０.０.１/", "１２７.０.０.１"],
    ["http://1.2.3.0x4/", "1.2.3.0x4"],
  ])("%s", (url, host) => {
    expect(urlViolation(url)).toEqual([{ field: "steps[0].url", description: `host ${JSON.stringify(host)} ${NOT_PLAIN}` }]);
  });

  test("percent-encoded hosts and IPv6 zone ids are refused", () => {
    expect(urlViolation("http://%31%32%37.0.0.1/")).toEqual([
      { field: "steps[0].url", description: "host must not contain '%' (percent-encoding or an IPv6 zone id)" },
    ]);
    expect(urlViolation("http://my%61pp.com/")).toHaveLength(1);
    // new URL refuses zone ids itself
    expect(urlViolation("http://[fe80::1%25eth0]/")).toHaveLength(1);
  });

  test("an empty host is refused", () => {
    expect(urlViolation("http://:80/x")).toHaveLength(1);
    expect(urlViolation("http://myapp.0x1/")).toHaveLength(1);
  });

  test.each(["http:///myapp.com/x", "http:/myapp.com/x", "http:myapp.com/x", "http:\\\\myapp.com/x", "http:/\\myapp.com/x"])(
    "%s: only scheme:// followed by the host is accepted",
    (url) => {
      expect(urlViolation(url)).toEqual([
        { field: "steps[0].url", description: 'must start with "http://" or "https://" followed by the host' },
      ]);
    },
  );

  test("plain addresses and names are accepted (the default policy allows loopback and private ranges)", () => {
    for (const url of ["http://1.2.3.4/", "http://127.0.0.1:8080/x", "http://10.0.0.1/", "http://[::1]:3000/", "http://[2001:db8::1]/", "https://myapp.com./x", "http://a1.b2/", "http://localhost:3000/"]) {
      expect(urlViolation(url), url).toEqual([]);
    }
  });
});

describe("IPv6 forms hiding an IPv4 address are refused", () => {
  test.each([
    ["http://[::ffff:169.254.169.254]/", "[::ffff:169.254.169.254]", "169.254.169.254"],
    ["http://[::ffff:a9fe:a9fe]/", "[::ffff:a9fe:a9fe]", "169.254.169.254"],
    ["http://[::ffff:127.0.0.1]/", "[::ffff:127.0.0.1]", "127.0.0.1"],
    ["http://[::127.0.0.1]/", "[::127.0.0.1]", "127.0.0.1"],
    ["http://[0:0:0:0:0:ffff:0a00:0001]/", "[0:0:0:0:0:ffff:0a00:0001]", "10.0.0.1"],
  ])("%s", (url, host, v4) => {
    expect(urlViolation(url)).toEqual([
      { field: "steps[0].url", description: `IPv6 address ${JSON.stringify(host)} carries the IPv4 address ${v4}: write the IPv4 address itself` },
    ]);
  });

  test("a NAT64 address is left to the policy, which checks its IPv4 address", () => {
    expect(urlViolation("http://[64:ff9b::a9fe:a9fe]/")).toEqual([
      { field: "steps[0].url", description: "destination denied by the outbound policy: 169.254.0.0/16" },
    ]);
    expect(urlViolation("http://[64:ff9b::808:808]/")).toEqual([]);
  });
});

describe("literal addresses the policy denies are refused at create", () => {
  test.each([
    ["http://169.254.169.254/latest/meta-data/", "169.254.0.0/16"],
    ["http://[fd00:ec2::254]/", "fd00:ec2::254/128"],
    ["http://100.100.100.200/", "100.100.100.200/32"],
    ["http://168.63.129.16/", "168.63.129.16/32"],
    ["http://0.0.0.0:8080/", "0.0.0.0/8"],
    ["http://[::]/", "::/128"],
    ["http://[fe80::1]/", "fe80::/10"],
    ["http://224.0.0.1/", "224.0.0.0/4"],
    ["http://255.255.255.255/", "255.255.255.255/32"],
    ["http://metadata.google.internal/computeMetadata/v1/", "metadata.google.internal"],
  ])("%s", (url, rule) => {
    expect(urlViolation(url)).toEqual([{ field: "steps[0].url", description: `destination denied by the outbound policy: ${rule}` }]);
  });

  test("under public-only, loopback, private addresses and localhost are refused; an allow entry lets one through", () => {
    const p = new OutboundPolicy({ preset: "public-only", allow: ["10.1.2.3"] });
    expect(urlViolation("http://127.0.0.1:3000/", p)).toEqual([{ field: "steps[0].url", description: "destination denied by the outbound policy: 127.0.0.0/8" }]);
    expect(urlViolation("http://10.9.9.9/", p)).toEqual([{ field: "steps[0].url", description: "destination denied by the outbound policy: 10.0.0.0/8" }]);
    expect(urlViolation("http://localhost:3000/", p)).toEqual([{ field: "steps[0].url", description: "destination denied by the outbound policy: localhost" }]);
    expect(urlViolation("http://10.1.2.3/", p)).toEqual([]);
    expect(urlViolation("https://myapp.com/", p)).toEqual([]);
  });
});

describe("every URL field is checked, with its path", () => {
  test("compensation, on_complete, on_error and base_url", () => {
    const w = input(
      "/jobs/a",
      { baseUrl: "http://u:p@myapp.com", onComplete: "http://127.1/done", onError: "http://169.254.169.254/" },
      { compensation: "http://0x7f000001/undo" },
    );
    expect(check(w)).toEqual([
      { field: "steps[0].compensation", description: `host "0x7f000001" ${NOT_PLAIN}` },
      { field: "on_complete", description: `host "127.1" ${NOT_PLAIN}` },
      { field: "on_error", description: "destination denied by the outbound policy: 169.254.0.0/16" },
      { field: "base_url", description: USER_INFO },
    ]);
  });

  test("paths resolved against an acceptable base_url are accepted", () => {
    expect(check(input("/jobs/a", { baseUrl: "https://myapp.com/app", onError: "/hooks/err" }, { compensation: "/undo" }))).toEqual([]);
  });

  test("at most 80 characters of a long host are echoed", () => {
    const host = `${"0".repeat(1500)}.0.0.1`; // WHATWG reads it as 0.0.0.1
    const [v] = urlViolation(`http://${host}/`);
    expect(v).toEqual({ field: "steps[0].url", description: `host "${"0".repeat(80)}…" ${NOT_PLAIN}` });
  });
});
