/**
 * `core.inquiry` answered from the admin surfaces, on both stores: the admin
 * page shows the waiting inquiry (what it waits for, its prompt and schema) and
 * its Signal form answers it; `trellis runs signal` answers it from the command
 * line. Either way the answer is checked against the task's schema: one that
 * does not match fails the task with the schema's message.
 */
import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { createAdmin } from "../../src/admin/index.js";
import { parseWorkflow } from "../../src/declarative/index.js";
import { newRuntime, type Runtime } from "../../src/index.js";
import { eventually, FormClient } from "../admin/fixture.js";
import { cliStoreTargets, inProcessCli } from "../support/cli.js";
import { approvalYaml, testExecutors } from "./support.js";

const BASE = "/ops/admin";
const approval = approvalYaml("t.approval", "Deploy shop 1.4.0?", 'output_map:\n  answer: "{{ task.approve.result }}"\n');

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "trellis-inquiry-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const trellis = inProcessCli(path.resolve(import.meta.dirname, "../.."));

describe.each(cliStoreTargets("dinq", tmp))("an inquiry answered from the admin surfaces on $name", (target) => {
  const open: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const close of open.splice(0).reverse()) await close();
  });

  async function app(): Promise<{ rt: Runtime; url: string; client: FormClient; storeUrl: string }> {
    const { config, url: storeUrl } = target.fresh();
    const rt = await newRuntime({ store: config, pollInterval: 50 });
    for (const e of testExecutors(new Map())) rt.registerExecutor(e);
    rt.registerPackage(parseWorkflow(approval));
    const workers = new AbortController();
    const running = rt.startWorkers({ signal: workers.signal });
    const server = http.createServer(createAdmin(rt, { basePath: BASE, authorize: () => true }).node);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    open.push(async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      workers.abort();
      await running;
      await rt.close();
    });
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}${BASE}`;
    return { rt, url, client: new FormClient(url), storeUrl };
  }

  const waiting = (rt: Runtime, id: string) => eventually(async () => (await rt.steps(id)).find((s) => s.id === "approve" && s.status === "waiting"), "the inquiry to wait");

  it("the step page shows the inquiry; the run page's Signal form answers it, and a wrong answer fails the task", async () => {
    const { rt, client } = await app();
    const good = await rt.startRun("t.approval", {});
    const step = await waiting(rt, good.id);
    expect(step.waitingFor).toBe("signal:inquiry:approve");
    const page = await client.get(`/runs/${encodeURIComponent(good.id)}/steps/approve`);
    expect(page.status).toBe(200);
    expect(page.text).toContain("signal:inquiry:approve");
    expect(page.text).toContain("declarative.prompt=Deploy shop 1.4.0?");
    expect(page.text).toContain("declarative.schema=");
    expect((await client.post({ action: "signal", runId: good.id, name: "inquiry:approve", payload: '{"approved":true}' })).status).toBe(303);
    expect((await rt.waitForRun(good.id, { timeout: 20_000 })).status).toBe("succeeded");
    expect(await rt.output(good.id)).toEqual({ answer: { approved: true } });
    expect((await rt.steps(good.id)).find((s) => s.id === "deploy")?.status).toBe("succeeded");

    const bad = await rt.startRun("t.approval", {});
    await waiting(rt, bad.id);
    expect((await client.post({ action: "signal", runId: bad.id, name: "inquiry:approve", payload: '{"approved":"yes"}' })).status).toBe(303);
    expect((await rt.waitForRun(bad.id, { timeout: 20_000 })).status).toBe("failed");
    const route = (await rt.steps(bad.id)).find((s) => s.id === "approve.route");
    expect(route?.lastError?.code).toBe("task_failed");
    expect(route?.lastError?.details).toMatchObject({
      task: "approve",
      error: { code: "invalid_input", message: "the answer does not match the inquiry's schema: approved: Invalid input: expected boolean, received string" },
    });
  });

  it("trellis runs signal answers it from the command line", async () => {
    const { rt, storeUrl } = await app();
    const { id } = await rt.startRun("t.approval", {});
    await waiting(rt, id);
    const answered = await trellis("runs", "signal", id, "inquiry:approve", "--payload", '{"approved":false}', "--reason", "not today", "--store", storeUrl);
    expect(answered.code).toBe(0);
    expect((await rt.waitForRun(id, { timeout: 20_000 })).status).toBe("succeeded");
    expect(await rt.output(id)).toEqual({ answer: { approved: false } });
    const ran = (await rt.steps(id)).filter((s) => s.status === "succeeded").map((s) => s.id);
    expect(ran).toContain("cancel");
    expect(ran).not.toContain("deploy");
  });
});
