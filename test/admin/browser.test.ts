/**
 * The admin page in a real browser (chromium through playwright-core): filter
 * the runs, open a failed run, Retry and watch the step advance without a
 * reload; Cancel run; answer a signal; a run full of markup renders inert.
 */
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stores } from "../support/stores.js";
import { launchChromium } from "./browser.js";
import { eventually, Gate, startAdminApp, XSS, type AdminApp } from "./fixture.js";

let browser: Browser;
beforeAll(async () => {
  browser = await launchChromium();
});
afterAll(() => browser?.close());

/** A fresh page that fails the test on any error the page's own script throws. */
async function openPage(): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on("pageerror", (err) => errors.push(err.message));
  return { page, errors };
}

const stepRow = (page: Page, stepId: string) => page.locator(`tr[data-step-id="${stepId}"]`);

describe.each(stores("admin_ui"))("the admin page in chromium, on $name", (target) => {
  let app: AdminApp;
  beforeAll(async () => {
    app = await startAdminApp(target.fresh());
  });
  afterAll(() => app?.close());

  it("filters the list, opens a failed run, and after Retry sees its steps advance live", async () => {
    app.failing.value = true;
    const failed = await app.rt.startRun("demo", { order: 1 });
    await app.rt.waitForRun(failed.id, { timeout: 10_000 });
    app.failing.value = false;
    const fine = await app.rt.startRun("demo", { order: 2 });
    await app.rt.waitForRun(fine.id, { timeout: 10_000 });

    const { page, errors } = await openPage();
    await page.goto(`${app.url}/`);
    await expect.poll(() => page.locator(`tr[data-run-id="${fine.id}"]`).count()).toBe(1);
    await page.getByLabel("Status").selectOption("failed");
    await page.getByRole("button", { name: "Filter" }).click();
    await page.waitForURL(/status=failed/);
    expect(await page.locator(`tr[data-run-id="${fine.id}"]`).count()).toBe(0);
    await page.getByRole("link", { name: failed.id }).click();
    await page.waitForURL(`**/runs/${encodeURIComponent(failed.id)}`);
    await stepRow(page, "fetch").locator(".status-failed").waitFor();

    // The retried step holds until the gate opens, so the advance happens after the page loaded.
    const gate = new Gate();
    app.gate.value = gate;
    await stepRow(page, "fetch").getByRole("button", { name: "Retry", exact: true }).click();
    await page.getByRole("status").filter({ hasText: "Retry: done." }).waitFor();
    await stepRow(page, "fetch").locator(".status-running").waitFor();
    await page.locator("#live-state", { hasText: "live" }).waitFor();
    // A marker that a reload would wipe: the updates below must come without one.
    await page.evaluate(() => ((globalThis as unknown as { sameDocument: boolean }).sameDocument = true));
    gate.open();
    await stepRow(page, "report").locator(".status-succeeded").waitFor();
    await page.locator("#run-status .status-succeeded").waitFor();
    expect(await page.evaluate(() => (globalThis as unknown as { sameDocument?: boolean }).sameDocument)).toBe(true);
    expect(Number(await page.locator("body").getAttribute("data-refreshes"))).toBeGreaterThan(0);
    expect(errors).toEqual([]);
    app.gate.value = undefined;
    await page.close();
  });
});

describe("the admin page in chromium: cancel, signal, markup", () => {
  const [sqlite] = stores("admin_ui_sqlite");
  let app: AdminApp;
  beforeAll(async () => {
    app = await startAdminApp(sqlite!.fresh());
  });
  afterAll(() => app?.close());

  it("shows a run started and then canceled elsewhere in the open runs list, without a reload", async () => {
    const { page, errors } = await openPage();
    await page.goto(`${app.url}/`);
    await page.locator("#live-state", { hasText: "live" }).waitFor();
    await page.evaluate(() => ((globalThis as unknown as { sameDocument: boolean }).sameDocument = true));
    const run = await app.rt.startRun("approval", {}, { runId: "started-while-watching" });
    await page.locator(`tr[data-run-id="${run.id}"]`).waitFor();
    expect(await page.evaluate(() => (globalThis as unknown as { sameDocument?: boolean }).sameDocument)).toBe(true);
    await app.rt.cancelRun(run.id);
    await page.locator(`tr[data-run-id="${run.id}"] .status-canceled`).waitFor();
    expect(errors).toEqual([]);
    await page.close();
  });

  it("keeps a filter the operator picked but has not submitted across a live refresh", async () => {
    const { page, errors } = await openPage();
    await page.goto(`${app.url}/`);
    await page.locator("#live-state", { hasText: "live" }).waitFor();
    const refreshes = async () => Number(await page.locator("body").getAttribute("data-refreshes"));
    await expect.poll(refreshes).toBeGreaterThan(0);
    const before = await refreshes();
    await page.getByLabel("Status").selectOption("failed");
    await page.locator("h1").click(); // focus leaves the form: refreshes are no longer held back
    const run = await app.rt.startRun("approval", {}, { runId: "started-while-filtering" });
    await page.locator(`tr[data-run-id="${run.id}"]`).waitFor();
    expect(await refreshes()).toBeGreaterThan(before);
    expect(await page.getByLabel("Status").inputValue()).toBe("failed");
    await page.getByRole("button", { name: "Filter" }).click();
    await page.waitForURL(/status=failed/);
    expect(errors).toEqual([]);
    await app.rt.cancelRun(run.id);
    await page.close();
  });

  it("Cancel run stops a running run", async () => {
    const started = app.blockStarted();
    const run = await app.rt.startRun("blocker", {});
    await started;
    const { page, errors } = await openPage();
    await page.goto(`${app.url}/runs/${encodeURIComponent(run.id)}`);
    await stepRow(page, "work").locator(".status-running").waitFor();
    await page.getByRole("button", { name: "Cancel run" }).click();
    await page.locator("#run-status .status-canceled").waitFor();
    await stepRow(page, "work").locator(".status-canceled").waitFor();
    expect((await app.rt.workflow(run.id))?.status).toBe("canceled");
    expect(await page.getByRole("button", { name: "Cancel run" }).count()).toBe(0);
    expect(errors).toEqual([]);
    await page.close();
  });

  it("answers a signal with a JSON payload, and refuses one that is not JSON with the message", async () => {
    const run = await app.rt.startRun("approval", {});
    await eventually(async () => (await app.rt.steps(run.id)).some((s) => s.status === "waiting"), "the signal wait");
    const { page, errors } = await openPage();
    await page.goto(`${app.url}/runs/${encodeURIComponent(run.id)}`);
    await page.getByLabel("Signal name").fill("approve");
    await page.getByLabel("Payload (JSON)").fill("{not json");
    await page.getByRole("button", { name: "Signal" }).click();
    await page.getByRole("alert").filter({ hasText: "not valid JSON" }).waitFor();

    await page.goto(`${app.url}/runs/${encodeURIComponent(run.id)}`);
    await page.getByLabel("Signal name").fill("approve");
    await page.getByLabel("Payload (JSON)").fill('{"by": "ada"}');
    await page.getByRole("button", { name: "Signal" }).click();
    await page.getByRole("status").filter({ hasText: "Signal: done." }).waitFor();
    await page.locator("#run-status .status-succeeded").waitFor();
    expect((await app.rt.result(run.id, "approval"))?.data).toEqual({ by: "ada" });
    expect(errors).toEqual([]);
    await page.close();
  });

  it("renders a run whose step name, input, metadata and error hold <script> and quotes as inert text", async () => {
    const run = await app.rt.startRun("xss", { note: XSS }, { metadata: { origin: XSS } });
    await app.rt.waitForRun(run.id, { timeout: 10_000 });
    const { page, errors } = await openPage();
    const dialogs: string[] = [];
    page.on("dialog", (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    for (const path of [`/runs/${encodeURIComponent(run.id)}`, `/runs/${encodeURIComponent(run.id)}/steps/${encodeURIComponent(XSS)}`, "/failed", "/"]) {
      await page.goto(`${app.url}${path}`);
      await page.locator("main").getByText(XSS).first().waitFor();
      expect(await page.evaluate(() => (globalThis as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
      expect(await page.locator("main script, main img").count()).toBe(0);
    }
    await page.goto(`${app.url}/runs/${encodeURIComponent(run.id)}/steps/${encodeURIComponent(XSS)}`);
    expect(await page.locator(".error-code").textContent()).toBe(XSS);
    expect(dialogs).toEqual([]);
    expect(errors).toEqual([]);
    await page.close();
  });
});
