// How a `weft` command fails: an error carrying the process exit code.

export const EXIT = { ok: 0, failed: 1, usage: 2, cancelled: 3, unreachable: 4 } as const;

/** An error that ends the command with `code` after printing `message` on stderr. */
export class CliError extends Error {
  readonly code: number;
  constructor(message: string, code: number) {
    super(message);
    this.code = code;
  }
}
