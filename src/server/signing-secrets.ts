// The secrets used to sign outgoing requests: configured ones, or one generated
// on first start and kept in the data directory so that it survives restarts.
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Logger } from "pino";

/** A new random secret in the whsec_<base64> form. */
export function generateSigningSecret(): string {
  return `whsec_${randomBytes(32).toString("base64")}`;
}

export function resolveSigningSecrets(configured: string[], dataDir: string, log: Logger): string[] {
  if (configured.length > 0) return configured;
  const file = join(dataDir, "signing-secret");
  if (!existsSync(file)) {
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(file, `${generateSigningSecret()}\n`, { mode: 0o600 });
    log.warn({ file }, "WEFT_SIGNING_SECRETS is not set: generated a signing secret; give it to your step handlers");
  }
  return [readFileSync(file, "utf8").trim()];
}
