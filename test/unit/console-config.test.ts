import { describe, expect, test } from "vitest";
import { loadConfig } from "../../src/config.ts";

describe("configuration of the web console", () => {
  test("on by default; --console and WEFT_CONSOLE switch it, the flag winning; anything else is refused", () => {
    expect(loadConfig([], {})!.console).toEqual({ enabled: true });
    expect(loadConfig([], { WEFT_CONSOLE: "off" })!.console).toEqual({ enabled: false });
    expect(loadConfig(["--console", "on"], { WEFT_CONSOLE: "off" })!.console).toEqual({ enabled: true });
    expect(() => loadConfig(["--console", "yes"], {})).toThrow(/console: "yes" must be on or off/);
  });
});
