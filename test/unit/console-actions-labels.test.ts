// The console's run actions (console/src/api/run-actions.ts: which ones a run's state allows) and
// label filter (console/src/api/label-filter.ts: "key=value" as typed and as kept in the address).
import { describe, expect, it } from "vitest";
import { labelMap, labelsFromParams, MAX_LABEL_FILTERS, parseLabel, withLabel } from "../../console/src/api/label-filter.ts";
import { type ActionRun, compensated, runActions } from "../../console/src/api/run-actions.ts";

const step = (compensation: string) => ({ compensation: { state: compensation } });
const run = (state: string, extra: Partial<ActionRun> = {}): ActionRun => ({ state, saga: false, steps: [step("none")], ...extra });
const webhook = (state: string) => ({ state });

describe("runActions", () => {
  it("offers Redrive for failed and cancelled runs only, not for a compensated saga run", () => {
    expect(runActions(run("failed")).redrive).toBe(true);
    expect(runActions(run("cancelled")).redrive).toBe(true);
    for (const s of ["pending", "running", "compensating", "completed"]) expect(runActions(run(s)).redrive).toBe(false);
    // A saga run that failed before any compensation ran may be redriven.
    expect(runActions(run("failed", { saga: true })).redrive).toBe(true);
    const undone = run("failed", { saga: true, steps: [step("succeeded"), step("none")] });
    expect(compensated(undone)).toBe(true);
    expect(runActions(undone).redrive).toBe(false);
    expect(compensated(run("failed", { steps: [step("succeeded")] }))).toBe(false);
  });

  it("offers Redeliver for a finished run whose webhook failed or was delivered", () => {
    expect(runActions(run("completed", { webhook: webhook("failed") })).redeliver).toBe(true);
    expect(runActions(run("failed", { webhook: webhook("delivered") })).redeliver).toBe(true);
    for (const s of ["pending", "delivering", "retry_wait"]) expect(runActions(run("completed", { webhook: webhook(s) })).redeliver).toBe(false);
    expect(runActions(run("completed")).redeliver).toBe(false);
  });

  it("offers Delete for a finished run with no webhook delivery left to make", () => {
    expect(runActions(run("completed")).remove).toBe(true);
    expect(runActions(run("cancelled", { webhook: webhook("failed") })).remove).toBe(true);
    expect(runActions(run("failed", { webhook: webhook("retry_wait") })).remove).toBe(false);
    for (const s of ["pending", "running", "compensating"]) expect(runActions(run(s)).remove).toBe(false);
  });
});

describe("label filter", () => {
  it("parses key=value at the first '=', trimmed; refuses what is not a label", () => {
    expect(parseLabel(" team = payments ")).toEqual({ ok: true, label: "team=payments" });
    expect(parseLabel("app.example.com/tenant=a=b")).toEqual({ ok: true, label: "app.example.com/tenant=a=b" });
    expect(parseLabel("flag=")).toEqual({ ok: true, label: "flag=" });
    expect(parseLabel("team")).toEqual({ ok: false, error: "write a label as key=value" });
    expect(parseLabel("=x")).toEqual({ ok: false, error: "the label's key is empty" });
    expect(parseLabel(`${"k".repeat(64)}=v`).ok).toBe(false);
    expect(parseLabel(`k=${"v".repeat(257)}`).ok).toBe(false);
  });

  it("reads the address's label parameters: well-formed ones, one per key (the last wins), at most 32", () => {
    expect(labelsFromParams(["team=a", "junk", "env=prod", "team=b"])).toEqual(["env=prod", "team=b"]);
    const many = Array.from({ length: 40 }, (_, i) => `k${i}=v`);
    expect(labelsFromParams(many)).toHaveLength(MAX_LABEL_FILTERS);
    expect(withLabel(["team=a"], "team=b")).toEqual(["team=b"]);
    expect(withLabel(["team=a"], "env=x")).toEqual(["team=a", "env=x"]);
  });

  it("builds the request's labels map", () => {
    expect(labelMap(["team=payments", "x=a=b", "flag="])).toEqual({ team: "payments", x: "a=b", flag: "" });
    expect(labelMap([])).toEqual({});
  });
});
