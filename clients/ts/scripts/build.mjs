// Builds dist/: ES modules and .d.ts from src/ (tsc), plus the generated
// weft.v1 code (src/gen, already JavaScript with .d.ts) copied next to them.
import { execFileSync } from "node:child_process";
import { cpSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");

rmSync(join(root, "dist"), { recursive: true, force: true });
execFileSync(process.execPath, [tsc, "-p", join(root, "tsconfig.json")], { stdio: "inherit" });
cpSync(join(root, "src/gen"), join(root, "dist/gen"), {
  recursive: true,
  filter: (src) => !/\.(ts|js)$/.test(src) || /\.(d\.ts|js)$/.test(src),
});
