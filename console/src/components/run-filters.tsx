import { useState, type FormEvent } from "react";
import { RUN_STATES } from "../api/states.ts";

export interface Filters {
  state: string;
  workflowId: string;
}

/** State and workflow id filters, and the search by run id. */
export function RunFilters({ filters, onChange, onSearch }: { filters: Filters; onChange(f: Filters): void; onSearch(runId: string): void }) {
  const [workflowId, setWorkflowId] = useState(filters.workflowId);
  const [runId, setRunId] = useState("");
  const applyWorkflow = (e: FormEvent) => {
    e.preventDefault();
    onChange({ ...filters, workflowId: workflowId.trim() });
  };
  const search = (e: FormEvent) => {
    e.preventDefault();
    if (runId.trim()) onSearch(runId.trim());
  };
  return (
    <div className="filters">
      <label>
        State{" "}
        <select data-testid="filter-state" value={filters.state} onChange={(e) => onChange({ ...filters, state: e.target.value })}>
          <option value="">any</option>
          {RUN_STATES.map((s) => (
            <option key={s.name} value={s.name}>{s.name}</option>
          ))}
        </select>
      </label>
      <form onSubmit={applyWorkflow}>
        <label>
          Workflow id{" "}
          <input data-testid="filter-workflow" value={workflowId} onChange={(e) => setWorkflowId(e.target.value)} placeholder="e.g. order-processing" maxLength={128} />
        </label>
        <button type="submit" data-testid="filter-workflow-apply">Filter</button>
      </form>
      <form onSubmit={search}>
        <label>
          Run id{" "}
          <input data-testid="search-run" value={runId} onChange={(e) => setRunId(e.target.value)} placeholder="wf_…" maxLength={64} />
        </label>
        <button type="submit" data-testid="search-run-go">Open</button>
      </form>
    </div>
  );
}
