// The API key the console sends (Authorization: Bearer), kept for this browser tab only.
const STORAGE_KEY = "weft.apiKey";

export function loadApiKey(): string {
  try {
    return sessionStorage.getItem(STORAGE_KEY) ?? "";
  } catch {
    return "";
  }
}

export function saveApiKey(key: string): void {
  try {
    if (key) sessionStorage.setItem(STORAGE_KEY, key);
    else sessionStorage.removeItem(STORAGE_KEY);
  } catch {
    // Storage disabled: the key lives only in memory (client.ts).
  }
}
