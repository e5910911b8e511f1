/**
 * Debian's chromium driven by playwright-core, for the admin page's browser tests.
 * Playwright's own browser download needs the internet; `.ci/run` installs
 * chromium with apt-get instead. `CHROMIUM_PATH` overrides where it is.
 */
import fs from "node:fs";
import { chromium, type Browser } from "playwright-core";

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

export async function launchChromium(): Promise<Browser> {
  if (!fs.existsSync(CHROMIUM_PATH)) {
    throw new Error(`no chromium at ${CHROMIUM_PATH}: install it (apt-get install -y chromium, as .ci/run does) or set CHROMIUM_PATH`);
  }
  // --no-sandbox: CI containers run as root, where chromium's sandbox refuses to start.
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: ["--no-sandbox", "--disable-dev-shm-usage"] });
}
