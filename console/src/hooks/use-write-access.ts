// Whether the key may cancel runs. CancelWorkflow with an empty id is refused before anything
// is done: PERMISSION_DENIED for a read key (checked before the request is read), else
// INVALID_ARGUMENT (the id is required).
import { useEffect, useState } from "react";
import { Code } from "@connectrpc/connect";
import { weft } from "../api/client.ts";
import { toProblem } from "../api/errors.ts";

export type WriteAccess = "unknown" | "yes" | "no";

export function useWriteAccess(keyVersion: number): WriteAccess {
  const [access, setAccess] = useState<WriteAccess>("unknown");
  useEffect(() => {
    let live = true;
    weft.cancelWorkflow({ id: "" }).then(
      () => live && setAccess("yes"),
      (err) => {
        if (!live) return;
        const p = toProblem(err);
        setAccess(p.code === Code.PermissionDenied ? "no" : p.code === Code.Unauthenticated ? "unknown" : "yes");
      },
    );
    return () => {
      live = false;
    };
  }, [keyVersion]);
  return access;
}
