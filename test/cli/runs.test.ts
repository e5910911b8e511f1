import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newPackage, newRuntime, sqliteStore, type Runtime } from "../../src/index.js";
import { registerShop, runUntilIdle, seedOperatorRuns } from "../support/operator-runs.js";
import { cliStoreTargets, inProcessCli } from "../support/cli.js";

const bin = path.resolve(import.meta.dirname, "../../dist/cli.js");
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "trellis-cli-runs-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
const targets = cliStoreTargets("cli_runs", dir);
const trellis = inProcessCli(dir);

describe.each(targets)("trellis runs on $name", ({ fresh }) => {
  let rt: Runtime;
  let store: string;
  beforeAll(async () => {
    const target = fresh();
    store = target.url;
    rt = await seedOperatorRuns(target.config);
  });
  afterAll(() => rt.close());

  it("lists runs newest first as a table, and as JSON with --json", async () => {
    const table = await trellis("runs", "list", "--store", store);
    expect(table.code).toBe(0);
    const lines = table.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^RUN\s+PACKAGE\s+STATUS\s+FAILED\s+CREATED\s+UPDATED\s+NAME$/);
    expect(lines.find((l) => l.startsWith("waiting "))).toMatch(/^waiting\s+shop\s+running\s+2\s/);
    expect(lines.slice(1).map((l) => l.split(/\s+/)[0])).toEqual(expect.arrayContaining(["done", "waiting", "broken", "paused"]));
    const parsed = JSON.parse((await trellis("runs", "list", "--store", store, "--json", "--status", "failed")).stdout);
    expect(parsed.map((r: { id: string }) => r.id)).toEqual(["broken"]);
    expect(parsed[0]).toMatchObject({ status: "failed", package: "broken", createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) });
    const limited = JSON.parse((await trellis("runs", "list", "--store", store, "--json", "--limit", "1")).stdout);
    expect(limited).toHaveLength(1);
  });

  it("lists the runs of one package version with --package-version, each with its packageVersion", async () => {
    const target = fresh();
    const own = await newRuntime({ store: target.config });
    try {
      for (const v of ["1", "2"]) own.registerPackage(newPackage("versioned").version(v).entrypoint((run) => void run.step("s", null, { kind: "k" })).build());
      await own.startRun("versioned", null, { runId: "old", version: "1" });
      await own.startRun("versioned", null, { runId: "new" });
    } finally {
      await own.close();
    }
    const listed = JSON.parse((await trellis("runs", "list", "--store", target.url, "--json", "--package-version", "1")).stdout);
    expect(listed.map((r: { id: string; packageVersion: string }) => [r.id, r.packageVersion])).toEqual([["old", "1"]]);
  });

  it("filters the list in the store by id prefix, metadata and created-at range", async () => {
    const ids = async (...filter: string[]) => JSON.parse((await trellis("runs", "list", "--store", store, "--json", ...filter)).stdout).map((r: { id: string }) => r.id);
    expect(await ids("--prefix", "wait")).toEqual(["waiting/child", "waiting"]);
    expect(await ids("--prefix", "w", "--status", "failed")).toEqual([]);
    expect(await ids("--from", "2999-01-01")).toEqual([]);
    expect(await ids("--to", "2999-01-01", "--prefix", "done")).toEqual(["done"]);
    await rt.startRun("shop", { items: 1 }, { runId: "tagged-1", metadata: { team: "billing", region: "eu=west" } });
    await rt.startRun("shop", { items: 1 }, { runId: "tagged-2", metadata: { team: "billing", region: "us" } });
    expect(await ids("--meta", "team=billing")).toEqual(["tagged-2", "tagged-1"]);
    expect(await ids("--meta", "team=billing", "--meta", "region=eu=west")).toEqual(["tagged-1"]);
    expect(await ids("--meta", "no-such-key=1")).toEqual([]);
    const bad = await trellis("runs", "list", "--store", store, "--meta", "novalue");
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("--meta novalue: write it as key=value");
    expect((await trellis("runs", "list", "--store", store, "--from", "someday")).code).toBe(2);
  });

  it("shows a run with its steps and its failed-step count", async () => {
    const { code, stdout } = await trellis("runs", "show", "waiting", "--store", store);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^status:\s+running$/m);
    expect(stdout).toMatch(/^failed steps:\s+2$/m); // charge, and item-7 of the fan-out
    expect(stdout).toMatch(/^charge\s+shop\/charge\s+payments\s+failed\s+1\/\d+\s+card_declined: the card was declined/m);
    expect(stdout).toMatch(/^approval\s+trellis\/signal\s+default\s+waiting\s+0\/\d+\s+signal:approve$/m);
    const parsed = JSON.parse((await trellis("runs", "show", "waiting", "--store", store, "--json")).stdout);
    expect(parsed.run.failedSteps).toBe(2);
    expect(parsed.steps).toHaveLength(4 + 1 + 1 + 30 + 1);
  });

  it("prints the event log", async () => {
    const { code, stdout } = await trellis("runs", "events", "broken", "--store", store);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^SEQ\s+AT\s+TYPE/);
    expect(stdout).toMatch(/step_failed\s+boom\s+1\s+\S+\s+card_declined/);
    expect(stdout).toMatch(/run_failed/);
    const parsed = JSON.parse((await trellis("runs", "events", "broken", "--store", store, "--json")).stdout);
    expect(parsed.map((e: { type: string }) => e.type)).toContain("run_started");
  });

  it("draws a run's graph in each format, and as data with --json", async () => {
    const mermaid = await trellis("runs", "graph", "waiting", "--store", store);
    expect(mermaid.code).toBe(0);
    expect(mermaid.stdout).toContain("flowchart TD");
    expect(mermaid.stdout).toContain("29 succeeded, 1 failed");
    const dot = await trellis("runs", "graph", "waiting", "--store", store, "--format", "dot");
    expect(dot.stdout).toMatch(/^digraph trellis \{/);
    const svg = await trellis("runs", "graph", "waiting", "--store", store, "--format", "svg");
    expect(svg.stdout).toMatch(/^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    expect(svg.stdout).toContain('data-node="charge" data-status="failed"');
    const data = JSON.parse((await trellis("runs", "graph", "waiting", "--store", store, "--json", "--expand", "fetch/shop/item")).stdout);
    expect(data.steps.filter((s: { fanOut?: string }) => s.fanOut === "fetch/shop/item")).toHaveLength(30);
    const bad = await trellis("runs", "graph", "waiting", "--store", store, "--format", "png");
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("--format png: expected one of mermaid, dot, svg [invalid_argument]");
  });

  it("retries a failed step, and refuses to retry a succeeded one (exit 1, the WorkflowError message)", async () => {
    const ok = await trellis("runs", "retry", "broken", "boom", "--actor", "ops-bot", "--reason", "card replaced", "--store", store, "--json");
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout)).toEqual({ ok: true, runId: "broken", stepId: "boom" });
    // Who retried and why, in the run's event log, as `runs events` prints it.
    const retried = (await rt.events("broken")).find((e) => e.type === "operator_retry");
    expect([retried?.actor, retried?.reason]).toEqual(["ops-bot", "card replaced"]);
    const log = await trellis("runs", "events", "broken", "--store", store);
    expect(log.stdout).toMatch(/^SEQ\s+AT\s+TYPE\s+STEP\s+ATTEMPT\s+WORKER\s+BY\s+REASON\s+DETAIL$/m);
    expect(log.stdout).toMatch(/operator_retry\s+boom\s+ops-bot\s+card replaced/);
    expect((await rt.steps("broken")).find((s) => s.id === "boom")?.status).toBe("ready");
    expect((await rt.workflow("broken"))?.status).toBe("running");
    const refused = await trellis("runs", "retry", "done", "fetch", "--store", store);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^trellis runs: .*\[invalid_state\]\n$/);
    expect(refused.stderr).not.toContain("    at ");
  });

  it("retries every failed step of a run with retry-run", async () => {
    const { code, stdout } = await trellis("runs", "retry-run", "waiting", "--store", store, "--json");
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toEqual({ ok: true, runId: "waiting", retried: ["charge", "item-7"] });
    const steps = await rt.steps("waiting");
    expect(steps.filter((s) => s.status === "failed")).toEqual([]);
    const none = await trellis("runs", "retry-run", "done", "--store", store);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('run "done" has no failed step to retry [invalid_state]');
  });

  it("delivers a signal with a JSON payload, idempotently by id, and refuses a payload that is not JSON", async () => {
    const first = await trellis("runs", "signal", "waiting", "approve", "--payload", '{"by":"ops"}', "--id", "sig-1", "--store", store);
    expect(first.code).toBe(0);
    expect(first.stdout).toBe("signal approve delivered to run waiting\n");
    const again = JSON.parse((await trellis("runs", "signal", "waiting", "approve", "--id", "sig-1", "--store", store, "--json")).stdout);
    expect(again).toEqual({ ok: true, runId: "waiting", name: "approve", delivered: false });
    await runUntilIdle(rt);
    expect((await rt.result("waiting", "approval"))?.data).toEqual({ by: "ops" });
    const bad = await trellis("runs", "signal", "waiting", "approve", "--payload", "{nope", "--store", store);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("--payload: not JSON");
  });

  it("pauses, resumes and cancels, and refuses each on a run whose state does not allow it", async () => {
    await rt.startRun("shop", { items: 1, approval: true }, { runId: "ops" });
    expect((await trellis("runs", "pause", "ops", "--store", store)).stdout).toBe("run ops paused\n");
    // Without --actor, the user running the command is the actor.
    const paused = (await rt.events("ops")).find((e) => e.type === "run_paused");
    expect(paused?.actor).toBe(os.userInfo().username);
    expect((await rt.workflow("ops"))?.status).toBe("paused");
    expect((await trellis("runs", "pause", "ops", "--store", store)).code).toBe(1);
    expect((await trellis("runs", "resume", "ops", "--store", store)).code).toBe(0);
    expect((await rt.workflow("ops"))?.status).toBe("running");
    expect((await trellis("runs", "cancel", "ops", "--store", store)).code).toBe(0);
    expect((await rt.workflow("ops"))?.status).toBe("canceled");
    const again = await trellis("runs", "cancel", "ops", "--store", store);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain("[invalid_state]");
    const unknown = await trellis("runs", "show", "no-such-run", "--store", store);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('no run "no-such-run" [not_found]');
  });

  it("purges finished runs before a date, and only those", async () => {
    await rt.startRun("broken", {}, { runId: "old-failure" });
    await runUntilIdle(rt);
    const before = await rt.listRuns({ limit: 1000 });
    const { code, stdout } = await trellis("runs", "purge", "--before", new Date(Date.now() + 60_000).toISOString(), "--status", "failed", "--status", "canceled", "--store", store, "--json");
    expect(code).toBe(0);
    const purged = JSON.parse(stdout).purged as number;
    const after = await rt.listRuns({ limit: 1000 });
    expect(purged).toBe(before.filter((r) => r.status === "failed" || r.status === "canceled").length);
    expect(after.map((r) => r.id).sort()).toEqual(before.filter((r) => r.status !== "failed" && r.status !== "canceled").map((r) => r.id).sort());
    expect(after.some((r) => r.id === "done")).toBe(true);
    const bad = await trellis("runs", "purge", "--before", "last tuesday", "--store", store);
    expect(bad.code).toBe(2);
    expect((await trellis("runs", "purge", "--store", store)).code).toBe(2);
  });
});

describe("trellis runs usage", () => {
  it("exits 2 on bad usage, with the usage line", async () => {
    for (const argv of [["runs"], ["runs", "frobnicate"], ["runs", "show"], ["runs", "show", "a", "b"], ["runs", "list", "--bogus"], ["runs", "list", "--status", "weird"], ["runs", "list", "--limit", "0"]]) {
      const { code, stderr } = await trellis(...argv);
      expect(code, argv.join(" ")).toBe(2);
      expect(stderr.length).toBeGreaterThan(0);
    }
    const help = await trellis("runs", "--help");
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("retry-run");
    expect((await trellis("runs", "graph", "--help")).stdout).toContain("--format mermaid|dot|svg");
  });

  it("refuses a sqlite: store whose file does not exist instead of creating it", async () => {
    const file = path.join(dir, "missing.db");
    const { code, stderr } = await trellis("runs", "list", "--store", `sqlite:${file}`);
    expect(code).toBe(2);
    expect(stderr).toContain("no such file");
    expect(fs.existsSync(file)).toBe(false);
  });

  it("keeps escape sequences a user wrote out of the terminal", async () => {
    const file = path.join(dir, "hostile.db");
    const rt = await newRuntime({ store: sqliteStore(file) });
    registerShop(rt);
    await rt.startRun("shop", { items: 0 }, { runId: "evil\u001b]0;pwned\u0007\u001b[2J", name: "name\u001b[31mred\nline" });
    await rt.close();
    const { stdout } = await trellis("runs", "list", "--store", `sqlite:${file}`);
    expect(stdout).not.toMatch(/[\u0000-\u0009\u000b-\u001f]/);
    expect(stdout).toContain("evil\uFFFD]0;pwned\uFFFD\uFFFD[2J");
    expect(stdout).toContain("name\uFFFD[31mred⏎line");
  });
});

describe("the built bin", () => {
  const run = promisify(execFile);
  it("runs `trellis runs` end to end over a SQLite file and over Postgres", async () => {
    for (const target of targets) {
      const { config, url } = target.fresh();
      const rt = await newRuntime({ store: config });
      registerShop(rt);
      await rt.startRun("broken", {}, { runId: "bin-run" });
      await runUntilIdle(rt);
      await rt.close();
      const list = await run(process.execPath, [bin, "runs", "list", "--store", url, "--json"]);
      expect(JSON.parse(list.stdout).map((r: { id: string; status: string }) => [r.id, r.status])).toEqual([["bin-run", "failed"]]);
      const graph = await run(process.execPath, [bin, "runs", "graph", "bin-run", "--store", url, "--format", "svg"]);
      expect(graph.stdout).toContain('data-node="boom" data-status="failed"');
      const refused = await run(process.execPath, [bin, "runs", "pause", "bin-run", "--store", url]).catch((e: { code: number; stderr: string }) => e);
      expect(refused).toMatchObject({ code: 1, stderr: expect.stringContaining("[invalid_state]") });
    }
  });
});
