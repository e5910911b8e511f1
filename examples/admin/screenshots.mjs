// Takes the screenshots in docs/admin/ with Debian's chromium through
// playwright-core: the example app's runs list, a failed run, a step, the
// failed steps and the queues.
//
//   npm run build && node examples/admin/screenshots.mjs
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { startAdminExample } from "./app.mjs";

const repoRoot = fileURLToPath(new URL("../..", import.meta.url));
const out = path.join(repoRoot, "docs", "admin");
fs.mkdirSync(out, { recursive: true });
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "trellis-admin-shots-"));
const app = await startAdminExample(path.join(dir, "admin.db"));
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium", args: ["--no-sandbox", "--disable-dev-shm-usage"] });
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const failed = encodeURIComponent(app.started.failed.id);
  const shots = [
    ["runs.png", app.url],
    ["run.png", `${app.url}runs/${failed}`],
    ["step.png", `${app.url}runs/${failed}/steps/charge`, { fullPage: true }],
    ["failed.png", `${app.url}failed`],
    ["queues.png", `${app.url}queues`],
  ];
  for (const [file, url, options] of shots) {
    await page.goto(url);
    await page.locator("#live-state", { hasText: "live" }).waitFor();
    await page.screenshot({ path: path.join(out, file), ...options });
    console.log(`docs/admin/${file}`);
  }
} finally {
  await browser.close();
  await app.stop();
  fs.rmSync(dir, { recursive: true, force: true });
}
