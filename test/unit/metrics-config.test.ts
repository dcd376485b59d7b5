import { describe, expect, test } from "vitest";
import { ConfigError, loadConfig } from "../../src/config.ts";

describe("configuration of /metrics", () => {
  test("defaults: served, needs a read key when keys are configured, 200 workflow ids labelled", () => {
    expect(loadConfig([], {})!.metrics).toEqual({ enabled: true, auth: "auth", maxWorkflowLabels: 200 });
  });

  test("flags and environment variables, the flag winning", () => {
    const env = { WEFT_METRICS: "off", WEFT_METRICS_AUTH: "open", WEFT_METRICS_MAX_WORKFLOW_IDS: "5" };
    expect(loadConfig([], env)!.metrics).toEqual({ enabled: false, auth: "open", maxWorkflowLabels: 5 });
    expect(loadConfig(["--metrics", "on", "--metrics-auth", "auth", "--metrics-max-workflow-ids", "0"], env)!.metrics).toEqual({
      enabled: true,
      auth: "auth",
      maxWorkflowLabels: 0,
    });
  });

  test("bad values are refused with the option's name", () => {
    expect(() => loadConfig(["--metrics", "yes"], {})).toThrow(/metrics: "yes" must be on or off/);
    expect(() => loadConfig(["--metrics-auth", "none"], {})).toThrow(/metrics-auth: "none" must be auth or open/);
    expect(() => loadConfig(["--metrics-max-workflow-ids=-1"], {})).toThrow(ConfigError);
    expect(() => loadConfig(["--metrics-max-workflow-ids", "1000000"], {})).toThrow(/metrics-max-workflow-ids: 1000000 is out of range/);
  });
});
