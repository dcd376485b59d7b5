// Client-side routes under /ui/: "/ui/" (runs) and "/ui/runs/<id>" (a run).
import { useEffect, useState } from "react";

export type Route = { page: "runs" } | { page: "run"; id: string };

const BASE = "/ui/";

export function parseRoute(pathname: string): Route {
  const rest = pathname.startsWith(BASE) ? pathname.slice(BASE.length) : "";
  const m = /^runs\/([^/]+)\/?$/.exec(rest);
  if (m) {
    try {
      return { page: "run", id: decodeURIComponent(m[1]!) };
    } catch {
      return { page: "runs" };
    }
  }
  return { page: "runs" };
}

export function runHref(id: string): string {
  return `${BASE}runs/${encodeURIComponent(id)}`;
}

export const RUNS_HREF = BASE;

export function navigate(href: string): void {
  window.history.pushState(null, "", href);
  window.dispatchEvent(new PopStateEvent("popstate"));
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(window.location.pathname));
  useEffect(() => {
    const update = () => setRoute(parseRoute(window.location.pathname));
    window.addEventListener("popstate", update);
    return () => window.removeEventListener("popstate", update);
  }, []);
  return route;
}
