// The secrets used to sign outgoing requests: configured ones, or one generated
// on first start and kept in the data directory so that it survives restarts.
//
// The file is written whole or not at all: into a temporary file (0600) in the
// same directory, fsynced, renamed over, and the directory fsynced.
import { randomBytes } from "node:crypto";
import { closeSync, fsyncSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import type { Logger } from "pino";
import { ConfigError } from "../config.ts";
import { parseSecretFile } from "../signing/secrets.ts";
import { ensurePrivateDir, PRIVATE_FILE_MODE, tightenIfPresent } from "../store/private-files.ts";

const FILE = "signing-secret";
const TEMP_PREFIX = `.${FILE}.`;
const TEMP_SUFFIX = ".tmp";

/** A new random secret in the whsec_<base64> form. */
export function generateSigningSecret(): string {
  return `whsec_${randomBytes(32).toString("base64")}`;
}

/** Writes `content` to `file` atomically and durably, mode 0600. */
function writeFileAtomic(dir: string, file: string, content: string): void {
  const temp = join(dir, `${TEMP_PREFIX}${process.pid}.${randomBytes(4).toString("hex")}${TEMP_SUFFIX}`);
  try {
    const fd = openSync(temp, "wx", PRIVATE_FILE_MODE);
    try {
      writeSync(fd, content);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, file);
  } catch (err) {
    rmSync(temp, { force: true });
    throw err;
  }
  // The rename is durable once the directory entry is.
  const dirFd = openSync(dir, "r");
  try {
    fsyncSync(dirFd);
  } finally {
    closeSync(dirFd);
  }
}

/** Temporary files a crash during the write may have left behind. */
function removeLeftovers(dir: string): void {
  for (const name of readdirSync(dir)) {
    if (name.startsWith(TEMP_PREFIX) && name.endsWith(TEMP_SUFFIX)) rmSync(join(dir, name), { force: true });
  }
}

export function resolveSigningSecrets(configured: string[], dataDir: string, log: Logger): string[] {
  if (configured.length > 0) return configured;
  const file = join(dataDir, FILE);
  const warn = (message: string) => log.warn({ file }, message);
  ensurePrivateDir(dataDir, warn);
  removeLeftovers(dataDir);
  let content: string;
  try {
    content = readFileSync(file, "utf8");
    tightenIfPresent(file, warn);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") {
      throw new ConfigError(`cannot read the signing secret file ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
    content = `${generateSigningSecret()}\n`;
    writeFileAtomic(dataDir, file, content);
    log.warn({ file }, "WEFT_SIGNING_SECRETS is not set: generated a signing secret; give it to your step handlers");
  }
  const parsed = parseSecretFile(content);
  if ("problem" in parsed) {
    throw new ConfigError(
      `the signing secret file ${file} is unusable: ${parsed.problem}. ` +
        "Delete it to have a new secret generated at the next start (then give the new one to your step handlers), " +
        "or set WEFT_SIGNING_SECRETS (or --signing-secrets) to the secrets your step handlers know",
    );
  }
  return [parsed.secret];
}
