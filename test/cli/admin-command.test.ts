/**
 * `trellis admin`: serves the page for a store given by URL, read-only unless
 * --allow-actions, until its signal aborts. Run in-process through `main`, on
 * both stores (the runs it shows were written by another runtime).
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { PassThrough } from "node:stream";
import { afterAll, describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";
import { storeFromUrl } from "../../src/cli/store-url.js";
import { newExecutor, newPackage, newRuntime, permanent } from "../../src/index.js";
import type { StoreConfig } from "../../src/store/store.js";
import { eventually, FormClient } from "../admin/fixture.js";
import { pgUrl, usePostgresSchemas } from "../support/postgres.js";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "trellis-cli-admin-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
const schemas = usePostgresSchemas("cli_admin");

/** Starts `trellis admin ...args` in-process; resolves once it printed its URL. */
async function serve(args: string[]) {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = "";
  stdout.on("data", (chunk) => (out += chunk));
  const stop = new AbortController();
  const exit = main(["admin", ...args, "--port", "0"], { stdout, stderr, signal: stop.signal, cwd: dir });
  const url = await eventually(async () => /(http:\/\/\S+)\//.exec(out)?.[1], "the admin URL");
  return { url, out: () => out, stop: async () => (stop.abort(), exit) };
}

/** A failed run written by an application's runtime (not the CLI's). */
async function failedRun(store: StoreConfig): Promise<string> {
  const rt = await newRuntime({ store });
  rt.registerExecutor(newExecutor("cli/fail", async () => {
    throw permanent("nope", new Error("no"));
  }));
  rt.registerPackage(newPackage("cli-demo").entrypoint(async (run) => void run.step("only", null, { kind: "cli/fail" })).build());
  const { id } = await rt.startRun("cli-demo", {});
  await rt.runOnce();
  await rt.close();
  return id;
}

const targets = [
  { name: "sqlite", url: () => `sqlite:./admin-${Math.random().toString(36).slice(2)}.db` },
  { name: "postgres", url: () => `${pgUrl()}${pgUrl().includes("?") ? "&" : "?"}schema=${schemas.schema()}` },
];

describe.each(targets)("trellis admin on $name", ({ url }) => {
  it("serves the runs of the store read-only, refusing actions, and stops on its signal with exit code 0", async () => {
    const storeUrl = url();
    const runId = await failedRun(await storeFromUrl(storeUrl, dir));
    const admin = await serve(["--store", storeUrl]);
    try {
      expect(admin.out()).toContain("read-only");
      const client = new FormClient(admin.url);
      const page = await client.get("/");
      expect(page.text).toContain(`data-run-id="${runId}"`);
      expect(page.text).not.toContain('name="_csrf"');
      const refused = await client.post({ action: "retry", runId, stepId: "only" }, { token: "x.y" });
      expect(refused.status).toBe(403);
    } finally {
      expect(await admin.stop()).toBe(0);
    }
  });

  it("with --allow-actions performs Retry (the step is ready again for the application's workers)", async () => {
    const storeUrl = url();
    const runId = await failedRun(await storeFromUrl(storeUrl, dir));
    const admin = await serve(["--store", storeUrl, "--allow-actions"]);
    try {
      const client = new FormClient(admin.url);
      const res = await client.post({ action: "retry", runId, stepId: "only" }, { token: await client.token(`/runs/${encodeURIComponent(runId)}`) });
      expect(res.status).toBe(303);
      const page = await client.get(`/runs/${encodeURIComponent(runId)}`);
      expect(page.text).toMatch(/data-step-id="only" data-status="ready"/);
    } finally {
      expect(await admin.stop()).toBe(0);
    }
  });
});

it("trellis admin refuses a bad --port or an unknown option with exit code 2", async () => {
  const io = { stdout: new PassThrough(), stderr: new PassThrough(), signal: new AbortController().signal, cwd: dir };
  expect(await main(["admin", "--port", "99999"], io)).toBe(2);
  expect(await main(["admin", "--frobnicate"], io)).toBe(2);
});
