// Shared by the pages: the key's version (bumped when a key is entered, so that pages reload)
// and a way to report an UNAUTHENTICATED answer (which shows the key form).
import { createContext, useContext } from "react";

export interface AuthState {
  version: number;
  reportUnauthenticated(message: string): void;
}

export const AuthContext = createContext<AuthState>({ version: 0, reportUnauthenticated: () => {} });

export function useAuth(): AuthState {
  return useContext(AuthContext);
}
