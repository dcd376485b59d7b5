// Builds dist/esm (ES modules) and dist/cjs (CommonJS), each with .d.ts, from
// src/ with tsc. The generated weft.v1 code (src/gen, JavaScript with .d.ts)
// is copied into dist/esm and compiled to CommonJS for dist/cjs.
import { execFileSync } from "node:child_process";
import { cpSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
const run = (project) => execFileSync(process.execPath, [tsc, "-p", join(root, project)], { stdio: "inherit" });
const copyGen = (to, re) => cpSync(join(root, "src/gen"), join(root, to), { recursive: true, filter: (p) => !/\.[jt]s$/.test(p) || re.test(p) });

rmSync(join(root, "dist"), { recursive: true, force: true });
run("tsconfig.json");
copyGen("dist/esm/gen", /\.(d\.ts|js)$/);
run("tsconfig.cjs.json");
run("tsconfig.gen-cjs.json");
copyGen("dist/cjs/gen", /\.d\.ts$/);
writeFileSync(join(root, "dist/cjs/package.json"), '{ "type": "commonjs" }\n');
