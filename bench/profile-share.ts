// Share of a CPU profile spent under given source files (`npm run bench:share`).
// Usage: node bench/profile-share.ts <file.cpuprofile> <label>=<regex> [<label>=<regex> ...]
// For each label: the fraction of the Weft process's busy samples (idle excluded) whose
// stack holds a frame from a file matching the regex, counted from the outermost such
// frame down (inclusive time), minus the time spent inside the frames' callees from
// another label's files or the wrapped pipeline (`--below <regex>`: a wrapper's callees
// matching it are not charged to the wrapper).
// Record a profile with: BENCH_WEFT_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" npm run bench
// The ratio of samples does not depend on how busy the machine is, which makes it the
// steadier figure for a cost that is a few per cent of a step.
import { readFileSync } from "node:fs";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
}

const args = process.argv.slice(2);
const file = args.shift();
let below: RegExp | undefined;
const labels: { name: string; re: RegExp }[] = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === "--below") below = new RegExp(args[++i]);
  else {
    const eq = args[i].indexOf("=");
    if (eq < 1) throw new Error(`expected <label>=<regex>, got "${args[i]}"`);
    labels.push({ name: args[i].slice(0, eq), re: new RegExp(args[i].slice(eq + 1)) });
  }
}
if (!file || labels.length === 0) {
  console.error("usage: node bench/profile-share.ts <file.cpuprofile> <label>=<regex>... [--below <regex>]");
  process.exit(2);
}

const profile = JSON.parse(readFileSync(file, "utf8")) as Profile;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parentOf = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parentOf.set(c, n.id);
const hits = new Map<number, number>();
for (const s of profile.samples) hits.set(s, (hits.get(s) ?? 0) + 1);

let busy = 0;
const charged = new Map<string, number>();
for (const [id, count] of hits) {
  if (byId.get(id)!.callFrame.functionName === "(idle)") continue;
  busy += count;
  const stack: ProfileNode[] = [];
  for (let x: number | undefined = id; x !== undefined; x = parentOf.get(x)) stack.push(byId.get(x)!);
  stack.reverse(); // outermost first
  for (const { name, re } of labels) {
    const at = stack.findIndex((n) => re.test(n.callFrame.url));
    if (at < 0) continue;
    // The wrapped pipeline below a wrapper is not the wrapper's cost.
    const rest = stack.slice(at + 1).filter((n) => !re.test(n.callFrame.url));
    if (below && rest.length > 0 && below.test(rest[0].callFrame.url)) continue;
    charged.set(name, (charged.get(name) ?? 0) + count);
  }
}
const pct = (n: number) => `${((100 * n) / busy).toFixed(2)}%`;
console.log(`busy samples: ${busy}`);
let sum = 0;
for (const { name } of labels) {
  const n = charged.get(name) ?? 0;
  sum += n;
  console.log(`${name.padEnd(24)} ${String(n).padStart(8)}  ${pct(n)}`);
}
console.log(`${"total".padEnd(24)} ${String(sum).padStart(8)}  ${pct(sum)}`);
