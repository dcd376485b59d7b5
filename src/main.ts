// The server's entry: `weft server [options]` (bin/weft.js imports this module and calls
// serve()), `npm start -- [options]`, or `node src/main.ts [options]`.
import { pino } from "pino";
import { ConfigError, helpText, loadConfig } from "./config.ts";
import { startServer } from "./server/server.ts";

/**
 * Logs a start-up failure as a JSON line on stdout (where the server's logs
 * go), synchronously, since the process exits right after.
 */
function logStartupError(msg: string, err: unknown): void {
  const logger = pino({ base: { service: "weft" } }, pino.destination({ dest: 1, sync: true }));
  logger.fatal(err instanceof ConfigError ? { reason: "invalid_config", error: err.message } : { reason: "start_failed", err }, msg);
}

async function main(args: string[]): Promise<void> {
  let config;
  try {
    config = loadConfig(args, process.env);
  } catch (err) {
    logStartupError("invalid configuration", err);
    process.stderr.write(`weft: ${(err as Error).message}\n\n${helpText()}\n`);
    process.exit(2);
  }
  if (!config) {
    process.stdout.write(helpText() + "\n");
    return;
  }
  const logger = pino({ level: config.logLevel, base: { service: "weft" } });
  const server = await startServer(config, logger);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, "shutting down");
    server.close(config.shutdownGraceMs).then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
}

/** Starts the server with command-line options `args` (without the command); exits the process on failure. */
export function serve(args: readonly string[]): void {
  main([...args]).catch((err: unknown) => {
    logStartupError(err instanceof ConfigError ? "invalid configuration" : "failed to start", err);
    if (err instanceof ConfigError) process.stderr.write(`weft: ${err.message}\n`);
    else process.stderr.write(`weft: failed to start: ${(err as Error).stack ?? err}\n`);
    process.exit(1);
  });
}

if (import.meta.main) serve(process.argv.slice(2));
