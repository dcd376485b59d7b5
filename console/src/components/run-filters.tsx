import { useState, type FormEvent } from "react";
import { MAX_LABEL_FILTERS, parseLabel, withLabel } from "../api/label-filter.ts";
import { RUN_STATES } from "../api/states.ts";

export interface Filters {
  state: string;
  workflowId: string;
  /** "key=value" pairs; a run matches when it has every one. */
  labels: string[];
}

/** State, workflow id and label filters, and the search by run id. */
export function RunFilters({ filters, onChange, onSearch }: { filters: Filters; onChange(f: Filters): void; onSearch(runId: string): void }) {
  const [workflowId, setWorkflowId] = useState(filters.workflowId);
  const [runId, setRunId] = useState("");
  const [label, setLabel] = useState("");
  const [labelError, setLabelError] = useState<string>();
  const addLabel = (e: FormEvent) => {
    e.preventDefault();
    const p = parseLabel(label);
    if (!p.ok) {
      setLabelError(p.error);
      return;
    }
    setLabelError(undefined);
    setLabel("");
    onChange({ ...filters, labels: withLabel(filters.labels, p.label) });
  };
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
      <form onSubmit={addLabel}>
        <label>
          Label{" "}
          <input data-testid="filter-label" value={label} onChange={(e) => setLabel(e.target.value)} placeholder="key=value" maxLength={320} />
        </label>
        <button type="submit" data-testid="filter-label-add" disabled={filters.labels.length >= MAX_LABEL_FILTERS}>Add</button>
        {labelError && <span className="problem-inline" role="alert" data-testid="filter-label-error">{labelError}</span>}
      </form>
      {filters.labels.length > 0 && (
        <span className="labels" data-testid="label-filters">
          {filters.labels.map((l) => (
            <span key={l} className="label-chip" data-testid="label-filter" data-label={l}>
              {l}{" "}
              <button type="button" className="label-remove" data-testid="label-filter-remove" title={`remove the filter ${l}`} onClick={() => onChange({ ...filters, labels: filters.labels.filter((x) => x !== l) })}>
                ×
              </button>
            </span>
          ))}
        </span>
      )}
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
