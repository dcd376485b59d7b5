import { useState, type FormEvent } from "react";

/** Asks for an API key (kept in this tab's sessionStorage). */
export function KeyForm({ message, onKey }: { message: string; onKey(key: string): void }) {
  const [key, setKey] = useState("");
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (key.trim()) onKey(key.trim());
  };
  return (
    <form className="key-form" onSubmit={submit} data-testid="key-form">
      <label htmlFor="api-key">This server needs an API key</label>
      <div className="row">
        <input
          id="api-key"
          data-testid="key-input"
          type="password"
          autoComplete="off"
          spellCheck={false}
          value={key}
          onChange={(e) => setKey(e.target.value)}
          placeholder="read or write key"
        />
        <button type="submit" data-testid="key-submit">Use key</button>
      </div>
      {message && <div className="hint" data-testid="key-message">{message}</div>}
      <div className="hint">Kept in this browser tab only (sessionStorage) and sent as <code>Authorization: Bearer</code>.</div>
    </form>
  );
}
