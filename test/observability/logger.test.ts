import { afterEach, describe, expect, it, vi } from "vitest";
import { newExecutor, newPackage, newRuntime, type Logger, type StoreConfig } from "../../src/index.js";
import { createTestRuntime } from "../../src/testing/index.js";
import { claimFailing, stores } from "../support/stores.js";

interface Line {
  level: "debug" | "info" | "warn" | "error";
  fields: Record<string, unknown>;
  message: string | undefined;
}

/** A pino-shaped logger writing to an array; `child` merges its bindings the pino way. */
function recordingLogger(lines: Line[], bindings: Record<string, unknown> = {}): Logger {
  const at =
    (level: Line["level"]) =>
    (fields: Record<string, unknown> | string, message?: string) => {
      if (typeof fields === "string") lines.push({ level, fields: { ...bindings }, message: fields });
      else lines.push({ level, fields: { ...bindings, ...fields }, message });
    };
  return {
    debug: at("debug"),
    info: at("info"),
    warn: at("warn"),
    error: at("error"),
    child: (more) => recordingLogger(lines, { ...bindings, ...more }),
  };
}

async function runToEnd(store: StoreConfig, config: { logger?: Logger; onError?: (e: unknown) => void }, execute: Parameters<typeof newExecutor>[1]) {
  const rt = await newRuntime({ store, ...config });
  rt.registerExecutor(newExecutor("work", execute));
  rt.registerPackage(
    newPackage("logged")
      .entrypoint((run) => void run.step("only", { n: 1 }, { kind: "work", queue: "q1", retry: { maxAttempts: 2, initialBackoff: 1 } }))
      .build(),
  );
  await rt.startRun("logged", null, { runId: "r1" });
  const ac = new AbortController();
  const workers = rt.startWorkers({ signal: ac.signal, pollInterval: 10 });
  const run = await rt.waitForRun("r1", { timeout: 20_000 });
  ac.abort();
  await workers;
  await rt.close();
  return run;
}

afterEach(() => vi.restoreAllMocks());

describe.each(stores("logger"))("logger injection on $name", ({ fresh }) => {
  it("logs the lifecycle with structured fields, and gives executors a child bound to run and step", async () => {
    const lines: Line[] = [];
    const run = await runToEnd(fresh(), { logger: recordingLogger(lines) }, async (step) => {
      step.logger.info({ custom: true }, "inside the executor");
      if (step.attempt === 1) throw new Error("first attempt fails");
      step.result("ok");
    });
    expect(run.status).toBe("succeeded");

    const messages = lines.map((l) => `${l.level} ${l.message}`);
    expect(messages).toContain("info store opened, migrations applied");
    expect(messages).toContain("info workers started");
    expect(messages).toContain("info workers stopped");
    expect(messages).toContain("info runtime closed");
    const opened = lines.find((l) => l.message === "store opened, migrations applied");
    expect(opened?.fields).toMatchObject({ store: expect.any(String), ms: expect.any(Number), workerId: expect.any(String) });

    const stepFields = { runId: "r1", stepId: "only", kind: "work", queue: "q1" };
    const ends = lines.filter((l) => l.message === "step ended");
    expect(ends.map((l) => l.fields)).toEqual([
      expect.objectContaining({ ...stepFields, attempt: 1, outcome: "retry", code: "error" }),
      expect.objectContaining({ ...stepFields, attempt: 2, outcome: "succeeded" }),
    ]);
    expect(ends.every((l) => l.level === "debug")).toBe(true);
    expect(lines.filter((l) => l.message === "step started")).toHaveLength(2);

    const fromExecutor = lines.filter((l) => l.message === "inside the executor");
    expect(fromExecutor.map((l) => [l.level, l.fields])).toEqual([
      ["info", expect.objectContaining({ ...stepFields, attempt: 1, custom: true })],
      ["info", expect.objectContaining({ ...stepFields, attempt: 2, custom: true })],
    ]);
  });

  it("binds the fields itself for a logger without child(), and accepts (message) alone", async () => {
    const lines: Line[] = [];
    const { child: _ignored, ...noChild } = recordingLogger(lines);
    await runToEnd(fresh(), { logger: noChild }, async (step) => {
      step.logger.warn("plain message");
      step.result(1);
    });
    const line = lines.find((l) => l.message === "plain message");
    expect(line).toMatchObject({ level: "warn", fields: { runId: "r1", stepId: "only", kind: "work", attempt: 1 } });
  });

  it("is silent below warn by default", async () => {
    const spies = (["debug", "info", "log", "warn", "error"] as const).map((m) => vi.spyOn(console, m).mockImplementation(() => undefined));
    const run = await runToEnd(fresh(), {}, async (step) => {
      step.logger.debug({ x: 1 }, "debug from the step");
      step.logger.info("info from the step");
      step.logger.warn({ x: 2 }, "warn from the step");
      step.result(1);
    });
    expect(run.status).toBe("succeeded");
    const [debug, info, log, warn, error] = spies;
    expect(debug).not.toHaveBeenCalled();
    expect(info).not.toHaveBeenCalled();
    expect(log).not.toHaveBeenCalled();
    expect(error).not.toHaveBeenCalled();
    expect(warn?.mock.calls).toEqual([["[trellis]", "warn from the step", expect.objectContaining({ x: 2, runId: "r1", stepId: "only" })]]);
  });

  it("a logger that throws loses its lines, never the run", async () => {
    const throwing: Logger = {
      debug: () => {
        throw new Error("debug broke");
      },
      info: () => {
        throw new Error("info broke");
      },
      warn: () => {
        throw new Error("warn broke");
      },
      error: () => {
        throw new Error("error broke");
      },
      child: () => {
        throw new Error("child broke");
      },
    };
    const run = await runToEnd(fresh(), { logger: throwing }, async (step) => {
      step.logger.info("ignored");
      step.result(1);
    });
    expect(run.status).toBe("succeeded");
  });

  it("reports store failures to onError, and to the logger at error with context when there is one", async () => {
    const flaky = claimFailing(fresh(), 1, "SQLITE_BUSY: database is locked");
    const lines: Line[] = [];
    const errors: unknown[] = [];
    const consoleError = vi.spyOn(console, "error").mockImplementation(() => undefined);
    const run = await runToEnd(flaky, { logger: recordingLogger(lines), onError: (e) => errors.push(e) }, async (step) => step.result(1));
    expect(run.status).toBe("succeeded");
    expect(errors).toEqual([expect.objectContaining({ code: "store_error" })]);
    const logged = lines.filter((l) => l.level === "error");
    expect(logged).toEqual([
      expect.objectContaining({
        message: "the worker loop's store call failed: trying again after the poll interval",
        fields: expect.objectContaining({ code: "store_error", err: errors[0] }),
      }),
    ]);
    expect(consoleError).not.toHaveBeenCalled();
  });
});

describe.each(stores("loggermore"))("logger injection, more, on $name", ({ fresh }) => {
  it("onError alone gets the errors survived, and the default console line is not printed", async () => {
    const flaky = claimFailing(fresh(), 1, "connection reset");
    const consoleError = vi.spyOn(console, "error").mockImplementation(() => undefined);
    const errors: unknown[] = [];
    const run = await runToEnd(flaky, { onError: (e) => errors.push(e) }, async (step) => step.result(1));
    expect(run.status).toBe("succeeded");
    expect(errors).toEqual([expect.objectContaining({ code: "store_error" })]);
    expect(consoleError).not.toHaveBeenCalled();
  });

  it("logs a step whose run this process canceled as canceled at debug, not as a lost lease", async () => {
    const lines: Line[] = [];
    const rt = await newRuntime({ store: fresh(), logger: recordingLogger(lines) });
    let started!: () => void;
    const running = new Promise<void>((resolve) => (started = resolve));
    rt.registerExecutor(
      newExecutor("hold", async (step) => {
        started();
        await new Promise((resolve) => step.signal.addEventListener("abort", resolve, { once: true }));
        step.result("written too late");
      }),
    );
    rt.registerPackage(newPackage("held").entrypoint((run) => void run.step("s", null, { kind: "hold" })).build());
    await rt.startRun("held", null, { runId: "r" });
    const ac = new AbortController();
    const workers = rt.startWorkers({ signal: ac.signal, pollInterval: 10 });
    await running;
    await rt.cancelRun("r");
    await expect.poll(() => lines.some((l) => l.message === "step ended" && l.fields.stepId === "s")).toBe(true);
    ac.abort();
    await workers;
    await rt.close();
    expect(lines.find((l) => l.message === "step ended")).toMatchObject({ level: "debug", fields: { outcome: "canceled", runId: "r" } });
    expect(lines.filter((l) => l.level === "warn")).toEqual([]);
  });

  it("warns of reclaimed leases with their counts", async () => {
    const lines: Line[] = [];
    const env = await createTestRuntime({ store: fresh(), logger: recordingLogger(lines) });
    try {
      env.rt.registerExecutor(newExecutor("work", async (step) => step.result(1)));
      env.rt.registerPackage(newPackage("lost").entrypoint((run) => void run.step("s", null, { kind: "work" })).build());
      env.crashNextAttempt("s", { before: "execute" }); // the worker that claims it dies at once
      await env.execute("lost", null, { runId: "r" });
      await env.advance(env.leaseDuration); // its lease has expired
      expect(await env.runUntilIdle()).toMatchObject({ reclaimed: 1, succeeded: 1 });
      expect(lines.filter((l) => l.level === "warn")).toEqual([
        expect.objectContaining({ message: "expired leases reclaimed", fields: expect.objectContaining({ reclaimed: 1, failed: 0 }) }),
      ]);
    } finally {
      await env.close();
    }
  });
});

describe("logger config", () => {
  it("rejects a logger without the four levels, naming the field, before it opens the store", async () => {
    const neverOpened = {
      name: "never-opened",
      open: async () => {
        throw new Error("the store was opened with an invalid config");
      },
    };
    await expect(newRuntime({ store: neverOpened, logger: { info: () => undefined } as unknown as Logger })).rejects.toMatchObject({
      code: "invalid_config",
      message: expect.stringContaining("logger"),
    });
  });
});
