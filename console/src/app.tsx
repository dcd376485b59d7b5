import { useCallback, useMemo, useState } from "react";
import { currentApiKey, setApiKey } from "./api/client.ts";
import { AuthContext, type AuthState } from "./api/auth-context.ts";
import { useRoute } from "./hooks/use-route.ts";
import { KeyForm } from "./components/key-form.tsx";
import { RunPage } from "./components/run-page.tsx";
import { RunsPage } from "./components/runs-page.tsx";

export function App() {
  const route = useRoute();
  const [version, setVersion] = useState(0);
  const [keyMessage, setKeyMessage] = useState<string>();
  const [hasKey, setHasKey] = useState(() => currentApiKey() !== "");
  const reportUnauthenticated = useCallback((message: string) => setKeyMessage(message), []);
  const auth = useMemo<AuthState>(() => ({ version, reportUnauthenticated }), [version, reportUnauthenticated]);
  const useKey = (key: string) => {
    setApiKey(key);
    setHasKey(key !== "");
    setKeyMessage(undefined);
    setVersion((v) => v + 1);
  };
  return (
    <AuthContext.Provider value={auth}>
      <header className="top">
        <span className="brand">Weft</span>
        <span className="muted">console</span>
        <span className="spacer" />
        {hasKey && (
          <button data-testid="forget-key" onClick={() => useKey("")} title="Forget the API key of this tab">
            Forget key
          </button>
        )}
      </header>
      {keyMessage !== undefined && <KeyForm message={keyMessage} onKey={useKey} />}
      <main>{route.page === "run" ? <RunPage key={route.id} id={route.id} /> : <RunsPage />}</main>
    </AuthContext.Provider>
  );
}
