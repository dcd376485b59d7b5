#!/usr/bin/env node
// `weft`, the Weft command: `weft server [options]` starts the server; `weft run|get|list|watch|
// cancel|redrive|rerun|redeliver|delete|pause|resume|bulk|events|items` operate one (src/cli/main.ts, on the same Node 24 as the server).
//
// Plain JavaScript that any Node.js >= 20 runs (the one that installed the package). The server
// itself runs on Node.js 24, from the `node` package (a dependency of @weftflow/server, installed
// into node_modules/node): if this process is not that Node, the server is started on it as a
// child process, which gets this process's signals and whose exit code (or signal) this process
// ends with, and which shuts down when this process is gone (bin/follow-parent.js). On that Node
// (npm start), or with no `node` package but a Node >= 24 (the container image, whose base image
// brings Node 24), the server runs in this process. Without either, `weft server --help` still
// prints the options (from dist/, which runs on Node 20).
import { spawn } from "node:child_process";
import { existsSync, readFileSync, realpathSync } from "node:fs";
import { createRequire } from "node:module";
import { constants } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const RUNTIME_MAJOR = 24;
const FORWARDED_SIGNALS = ["SIGTERM", "SIGINT", "SIGHUP"];

const COMMANDS = {
  server: { summary: "start the server: gRPC, gRPC-Web and Connect on one port ('weft server --help' lists its options)", run: server },
  run: { summary: "start a run of a workflow file (YAML or JSON); --watch follows it", run: operator("run") },
  get: { summary: "a run's state and steps", run: operator("get") },
  list: { summary: "runs, newest first (--state, --workflow, --label, --since, --limit, --all)", run: operator("list") },
  watch: { summary: "follow a run to its end: live view on a terminal, JSON lines otherwise", run: operator("watch") },
  cancel: { summary: "cancel a run that has not finished", run: operator("cancel") },
  redrive: { summary: "continue a failed or cancelled run: only the steps that did not complete run again", run: operator("redrive") },
  rerun: { summary: "a new run of a finished one from given steps (--from): the other completed steps are copied", run: operator("rerun") },
  redeliver: { summary: "deliver a finished run's webhook again", run: operator("redeliver") },
  delete: { summary: "delete a finished run with its events", run: operator("delete") },
  pause: { summary: "pause a run: nothing new starts until resume (--reason, --hold-deadline)", run: operator("pause") },
  resume: { summary: "resume a paused run where it stopped", run: operator("resume") },
  bulk: { summary: "cancel|redrive|pause|resume every run matching list's filters (--dry-run, --yes)", run: operator("bulk") },
  events: { summary: "a run's event log", run: operator("events") },
  items: { summary: "a map step's items, with their results or errors (--state, --limit, --all)", run: operator("items") },
};

function usage() {
  const lines = ["Usage: weft <command> [options]", "", "Commands:"];
  for (const [name, { summary }] of Object.entries(COMMANDS)) lines.push(`  ${name.padEnd(10)} ${summary}`);
  lines.push("", "Options:", "  --help, -h   print this and exit", "  --version    print the version and exit");
  lines.push("", "'weft <command> --help' describes a command. The operator commands reach the server at --url or", "WEFT_URL (default http://127.0.0.1:8080) with the API key --api-key or WEFT_API_KEY.");
  return lines.join("\n") + "\n";
}

function main(argv) {
  const [command, ...rest] = argv;
  if (command === "--help" || command === "-h" || command === "help") {
    process.stdout.write(usage());
    return;
  }
  if (command === "--version") {
    process.stdout.write(JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).version + "\n");
    return;
  }
  const known = command !== undefined && Object.hasOwn(COMMANDS, command) ? COMMANDS[command] : undefined;
  if (!known) {
    const what = command === undefined ? "no command given" : `unknown command ${JSON.stringify(command.slice(0, 40))}`;
    process.stderr.write(`weft: ${what}\n\n${usage()}`);
    process.exit(2);
  }
  known.run(rest);
}

/** An entry (e.g. "main"): the sources in a clone of the repository, the compiled files in the package. */
function entryFile(name) {
  const source = join(ROOT, "src", `${name}.ts`);
  return existsSync(source) ? source : join(ROOT, "dist", `${name}.js`);
}

function serverEntry() {
  return entryFile("main");
}

/** The Node.js binary of the `node` package, if it is installed (its install script ran). */
function bundledNode() {
  try {
    const manifest = createRequire(join(ROOT, "package.json")).resolve("node/package.json");
    const { bin } = JSON.parse(readFileSync(manifest, "utf8"));
    const file = join(dirname(manifest), typeof bin === "string" ? bin : bin.node);
    return existsSync(file) ? file : undefined;
  } catch {
    return undefined;
  }
}

function sameFile(a, b) {
  try {
    return realpathSync(a) === realpathSync(b);
  } catch {
    return false;
  }
}

function server(args) {
  runOnRuntime(serverEntry(), args, "the server runs", (m) => m.serve(args));
}

/** `weft <command>` of the operator CLI: src/cli/main.ts (dist/cli/main.js), on Node 24 too (its dependencies need it). */
function operator(command) {
  return (args) => runOnRuntime(entryFile(join("cli", "main")), [command, ...args], "weft's commands run", (m) => m.cli([command, ...args]));
}

/** Runs `entry` on Node 24: re-executed on the bundled Node with `args`, or imported here and started with `start`. */
function runOnRuntime(entry, args, what, start) {
  const runtime = bundledNode();
  if (runtime && !sameFile(runtime, process.execPath)) {
    reexec(runtime, entry, args);
    return;
  }
  if (!runtime && Number(process.versions.node.split(".")[0]) < RUNTIME_MAJOR) {
    if (args.includes("--help") || args.includes("-h")) {
      printHelpHere();
      return;
    }
    process.stderr.write(
      `weft: ${what} on Node.js ${RUNTIME_MAJOR}, which the "node" package (a dependency of @weftflow/server) ` +
        `brings; it is not installed (was its install script skipped, e.g. --ignore-scripts?), and this is Node.js ` +
        `${process.version}. Reinstall with install scripts, or run weft on Node.js ${RUNTIME_MAJOR}.\n`,
    );
    process.exit(1);
  }
  // Node 24 prints no ExperimentalWarning for type stripping or node:sqlite; if a version does,
  // such warnings are dropped here (they would be plain text among the JSON log lines). Other
  // warnings are printed as usual.
  const printers = process.listeners("warning");
  process.removeAllListeners("warning");
  process.on("warning", (warning) => {
    if (warning.name !== "ExperimentalWarning") for (const print of printers) print(warning);
  });
  import(pathToFileURL(entry).href).then(
    (m) => start(m),
    (err) => {
      process.stderr.write(`weft: failed to start: ${err?.stack ?? err}\n`);
      process.exit(1);
    },
  );
}

/** `weft server --help` without the Node 24 runtime: the compiled configuration module runs on any Node >= 20. */
function printHelpHere() {
  const config = join(ROOT, "dist", "config.js");
  import(pathToFileURL(config).href).then(
    (m) => process.stdout.write(m.helpText() + "\n"),
    (err) => {
      process.stderr.write(`weft: cannot print the server's options without Node.js ${RUNTIME_MAJOR}: ${err?.message ?? err}\n`);
      process.exit(1);
    },
  );
}

function reexec(runtime, entry, args) {
  // The IPC channel lets the child notice when this process is gone (bin/follow-parent.js).
  const follow = pathToFileURL(join(ROOT, "bin", "follow-parent.js")).href;
  const child = spawn(runtime, ["--disable-warning=ExperimentalWarning", "--import", follow, entry, ...args], {
    stdio: ["inherit", "inherit", "inherit", "ipc"],
  });
  const forward = (signal) => child.kill(signal);
  for (const signal of FORWARDED_SIGNALS) process.on(signal, forward);
  child.on("error", (err) => {
    process.stderr.write(`weft: cannot start ${runtime}: ${err.message}\n`);
    process.exit(1);
  });
  child.on("exit", (code, signal) => {
    for (const s of FORWARDED_SIGNALS) process.off(s, forward);
    if (!signal) process.exit(code ?? 1);
    // End the way the child did; if that signal does not end this process, exit as a shell would.
    process.kill(process.pid, signal);
    setImmediate(() => process.exit(128 + (constants.signals[signal] ?? 0)));
  });
}

main(process.argv.slice(2));
