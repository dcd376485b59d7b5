// The data directory and the files in it are the server's alone: the directory
// is 0700, every file 0600, whatever the umask. Existing ones are tightened if
// this process owns them; if it cannot, it says so (a warning) and carries on.
import { chmodSync, closeSync, fchmodSync, fstatSync, mkdirSync, openSync, statSync } from "node:fs";

export const PRIVATE_DIR_MODE = 0o700;
export const PRIVATE_FILE_MODE = 0o600;

/** Creates `dir` (and missing parents) 0700, or tightens an existing one to 0700. */
export function ensurePrivateDir(dir: string, warn: (message: string) => void): void {
  mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
  const st = statSync(dir);
  if ((st.mode & 0o777) === PRIVATE_DIR_MODE) return;
  const shared = (st.mode & 0o1000) !== 0; // sticky, like /tmp: a directory meant for everyone
  if (shared || (typeof process.getuid === "function" && st.uid !== process.getuid())) {
    const why = shared ? "is a shared (sticky) directory" : "is not owned by this user";
    warn(`data directory ${dir} ${why} and has mode ${(st.mode & 0o777).toString(8)}: others may see the data; use a directory of its own, mode 0700`);
    return;
  }
  try {
    chmodSync(dir, PRIVATE_DIR_MODE);
  } catch (err) {
    warn(`could not make data directory ${dir} private (chmod 0700): ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

/** Creates `file` empty with mode 0600 if it is missing; tightens an existing one to 0600. */
export function ensurePrivateFile(file: string, warn: (message: string) => void): void {
  const fd = openSync(file, "a", PRIVATE_FILE_MODE);
  try {
    if ((fstatSync(fd).mode & 0o777) === PRIVATE_FILE_MODE) return;
    try {
      fchmodSync(fd, PRIVATE_FILE_MODE);
    } catch (err) {
      warn(`could not make ${file} private (chmod 0600): ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  } finally {
    closeSync(fd);
  }
}

/** Tightens `file` to 0600 if it exists (e.g. a -wal file left by an earlier run). */
export function tightenIfPresent(file: string, warn: (message: string) => void): void {
  let mode: number;
  try {
    mode = statSync(file).mode & 0o777;
  } catch {
    return;
  }
  if (mode === PRIVATE_FILE_MODE) return;
  try {
    chmodSync(file, PRIVATE_FILE_MODE);
  } catch (err) {
    warn(`could not make ${file} private (chmod 0600): ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}
