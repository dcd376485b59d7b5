import type { JsonValue } from "@bufbuild/protobuf";

/** Larger JSON is collapsed (a click opens it). */
const COLLAPSE_CHARS = 2000;

export function JsonView({ value, testId }: { value: JsonValue | undefined; testId?: string }) {
  if (value === undefined) return <span className="muted">—</span>;
  const text = JSON.stringify(value, null, 2);
  if (text.length <= COLLAPSE_CHARS) return <pre className="json" data-testid={testId}>{text}</pre>;
  return (
    <details data-testid={testId}>
      <summary>{`JSON, ${text.length.toLocaleString("en")} characters (show)`}</summary>
      <pre className="json">{text}</pre>
    </details>
  );
}
