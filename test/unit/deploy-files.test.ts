// The deployment files agree with each other and keep their promises: one Node version for the
// server everywhere (the `node` dependency, the image's base, the `weft` command), Node >= 20 to
// install, compose files that use the image (no install at container start) and that have no
// default secret. (The image's steps themselves run in test/e2e/container-image.test.ts.)
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { execForm, healthcheckCommand, lastOf, parseDockerfile } from "../support/dockerfile.ts";
import { REPO_ROOT } from "../support/server-package.ts";

const read = (f: string) => readFileSync(join(REPO_ROOT, f), "utf8");
const pkg = JSON.parse(read("package.json")) as {
  name: string;
  license: string;
  engines: { node: string };
  bin: Record<string, string>;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
  scripts: Record<string, string>;
};
const stages = parseDockerfile(read("Dockerfile"));

describe("one Node requirement", () => {
  const runtimeMajor = Number(/^\^(\d+)\./.exec(pkg.dependencies.node)?.[1]);

  it("the Node 24 runtime is a production dependency; installing needs Node >= 20", () => {
    expect(runtimeMajor).toBe(24);
    expect(pkg.devDependencies.node).toBeUndefined();
    expect(pkg.engines.node).toBe(">=20");
  });

  it("every stage of the image is based on that Node's image", () => {
    for (const stage of stages) expect(stage.image).toBe(`node:${runtimeMajor}-slim`);
  });

  it("the weft command wants that Node", () => {
    expect(read(pkg.bin.weft)).toContain(`const RUNTIME_MAJOR = ${runtimeMajor};`);
  });

  it("the README says it the same way", () => {
    expect(read("README.md")).toContain("Installing needs Node.js ≥ 20 with npm; the server itself runs on\nNode.js 24");
  });
});

describe("the package", () => {
  it("is @weftflow/server with the weft command; npm start runs weft server without a shell in between", () => {
    expect(pkg.name).toBe("@weftflow/server");
    expect(pkg.bin).toEqual({ weft: "bin/weft.js" });
    // exec: SIGTERM that npm passes on reaches the server, not only the shell (test/e2e/server-package.test.ts).
    expect(pkg.scripts.start).toBe("exec node bin/weft.js server");
  });
});

describe("the Dockerfile", () => {
  const final = stages.at(-1)!;

  it("starts weft server in exec form (node is PID 1 and gets SIGTERM) as the user node, data in /data", () => {
    expect(execForm(lastOf(final, "ENTRYPOINT")!)).toEqual(["node", "bin/weft.js"]);
    expect(execForm(lastOf(final, "CMD")!)).toEqual(["server"]);
    expect(lastOf(final, "USER")).toBe("node");
    expect(lastOf(final, "VOLUME")).toBe("/data");
    expect(healthcheckCommand(final)?.[0]).toBe("node");
  });

  it("installs production dependencies only, from the lock file", () => {
    const runs = stages.flatMap((s) => s.instructions.filter((i) => i.keyword === "RUN").map((i) => i.args));
    expect(runs.some((r) => /^npm ci --omit=dev\b/.test(r))).toBe(true);
    expect(runs.filter((r) => /\bnpm (ci|install|i)\b/.test(r) && !r.includes("--omit=dev"))).toEqual([]);
  });
});

describe("the compose files", () => {
  for (const file of ["deploy/compose.yaml", "deploy/compose.mongodb.yaml"]) {
    const text = read(file);
    it(`${file} uses the image built from the Dockerfile, installs nothing at start, and requires keys and secrets`, () => {
      expect(text).toMatch(/build:\s*\n\s+context: \.\.\n/);
      expect(text).not.toMatch(/npm (ci|install|start)|node:24\b/);
      expect(text).toMatch(/WEFT_API_KEYS: \$\{WEFT_API_KEYS:\?[^}]+\}/);
      expect(text).toMatch(/WEFT_SIGNING_SECRETS: \$\{WEFT_SIGNING_SECRETS:\?[^}]+\}/);
      // No variable with a default value (${VAR:-x} or ${VAR-x}).
      expect(text).not.toMatch(/\$\{[A-Z_]+:?-/);
    });
  }
});

describe("the licence", () => {
  it("LICENSE (Apache License 2.0) is at the root, and each package ships an identical copy", () => {
    const text = read("LICENSE");
    expect(text).toContain("Apache License\n                           Version 2.0, January 2004");
    expect(text).toContain("END OF TERMS AND CONDITIONS");
    for (const copy of ["clients/ts/LICENSE", "clients/go/LICENSE", "clients/python/LICENSE"]) expect(read(copy), copy).toBe(text);
    expect(pkg.license).toBe("Apache-2.0");
    expect((JSON.parse(read("package.json")) as { files: string[] }).files).toContain("LICENSE");
    expect((JSON.parse(read("clients/ts/package.json")) as { files: string[]; license: string }).files).toContain("LICENSE");
    expect(read("clients/python/pyproject.toml")).toMatch(/^license-files = \["LICENSE"\]$/m);
  });
});
