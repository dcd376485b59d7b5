// Debian's Chromium driven by playwright-core (scripts/install-tools.sh installs it). A missing
// browser fails the test that needs it: the console's browser tests never skip.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { chromium, type Browser, type ConsoleMessage, type Page } from "playwright-core";
import { DEFAULT_CONSOLE_DIR } from "../../src/server/console-assets.ts";

export const CHROMIUM = process.env.WEFT_CHROMIUM ?? "/usr/bin/chromium";

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`no Chromium at ${CHROMIUM}: run scripts/install-tools.sh as root (apt-get install chromium) or set WEFT_CHROMIUM`);
  }
  return chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"] });
}

/** Collects the page's console errors and uncaught exceptions (CSP violations among them). */
export function pageErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on("console", (m: ConsoleMessage) => {
    if (m.type() === "error") errors.push(m.text());
  });
  page.on("pageerror", (e) => errors.push(String(e)));
  return errors;
}

/** Fails (never skips) when the console has not been built: the browser tests need its files. */
export function requireBuiltConsole(): void {
  if (!existsSync(join(DEFAULT_CONSOLE_DIR, "index.html"))) {
    throw new Error(`the console is not built (${DEFAULT_CONSOLE_DIR}): run npm run build:console (scripts/test.sh's set-up does)`);
  }
}
