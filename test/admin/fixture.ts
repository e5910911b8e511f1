/**
 * An application for the admin tests: a runtime on a real store with workers
 * running, packages whose steps fail, block or wait on command, and the admin
 * page mounted on node:http at `/ops/admin`.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { createAdmin, type AdminOptions } from "../../src/admin/index.js";
import { newExecutor, newPackage, newRuntime, permanent, requireSteps, type Runtime } from "../../src/index.js";
import type { StoreConfig } from "../../src/store/store.js";

export const BASE = "/ops/admin";

/** A promise the test resolves when it wants a step to go on. */
export class Gate {
  #open!: () => void;
  readonly opened = new Promise<void>((resolve) => (this.#open = resolve));
  open(): void {
    this.#open();
  }
}

export interface AdminApp {
  rt: Runtime;
  /** `http://127.0.0.1:<port>/ops/admin` */
  url: string;
  /** While true, `demo/flaky` steps fail with `flaky_failure`. */
  failing: { value: boolean };
  /** When set, a `demo/flaky` step that would succeed waits for it first. */
  gate: { value: Gate | undefined };
  /** Resolves the next time a `demo/block` step starts. */
  blockStarted(): Promise<void>;
  close(): Promise<void>;
}

/** XSS payloads: text that would run or break out of an attribute if it were not escaped. */
export const XSS = `<script>window.__pwned = 1</script>"'><img src=x onerror="window.__pwned = 2">`;

export async function startAdminApp(config: StoreConfig, options: AdminOptions = { basePath: BASE, authorize: () => true }): Promise<AdminApp> {
  const rt = await newRuntime({ store: config, pollInterval: 50 });
  const failing = { value: true };
  const gate: { value: Gate | undefined } = { value: undefined };
  let onBlockStart: (() => void) | undefined;

  rt.registerExecutor(
    newExecutor("demo/flaky", async (step) => {
      if (failing.value) throw permanent("flaky_failure", new Error("the upstream service said no"));
      await gate.value?.opened;
      step.result({ fetched: step.input() });
    }),
  );
  rt.registerExecutor(newExecutor("demo/echo", async (step) => step.result({ echoed: step.input() })));
  rt.registerExecutor(
    newExecutor("demo/block", async (step) => {
      onBlockStart?.();
      // Runs until the run is canceled (step.signal aborts).
      await new Promise<void>((resolve) => step.signal.addEventListener("abort", () => resolve(), { once: true }));
      throw step.signal.reason;
    }),
  );
  rt.registerExecutor(
    newExecutor("demo/xss", async () => {
      throw permanent(XSS, new Error(XSS));
    }),
  );

  rt.registerPackage(
    newPackage("demo")
      .entrypoint(async (run, input) => {
        const fetched = run.step("fetch", input, { kind: "demo/flaky" });
        run.output(run.step("report", { from: "fetch" }, { kind: "demo/echo", dependsOn: requireSteps(fetched) }));
      })
      .build(),
  );
  rt.registerPackage(newPackage("blocker").entrypoint(async (run) => void run.step("work", null, { kind: "demo/block" })).build());
  rt.registerPackage(
    newPackage("approval")
      .entrypoint(async (run) => {
        const approved = run.waitForSignal("approval", "approve");
        run.step("apply", null, { kind: "demo/echo", dependsOn: requireSteps(approved) });
      })
      .build(),
  );
  rt.registerPackage(newPackage("xss").entrypoint(async (run, input) => void run.step(XSS, input, { kind: "demo/xss" })).build());

  const workers = new AbortController();
  const running = rt.startWorkers({ signal: workers.signal });
  const admin = createAdmin(rt, options);
  const server = http.createServer(admin.node);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    rt,
    url: `http://127.0.0.1:${port}${options.basePath ?? ""}`,
    failing,
    gate,
    blockStarted: () => new Promise<void>((resolve) => (onBlockStart = resolve)),
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      gate.value?.open();
      workers.abort();
      await running;
      await rt.close({ shutdownGrace: 1_000 });
    },
  };
}

/** Polls `check` until it returns a value (no fixed sleeps: the condition decides). */
export async function eventually<T>(check: () => Promise<T | undefined | false>, what: string, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (let wait = 5; ; wait = Math.min(wait * 2, 100)) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, wait));
  }
}

/** A browser-like client for one admin page: its cookie, a page's CSRF token, and form posts. */
export class FormClient {
  readonly #url: string;
  cookie = "";
  constructor(url: string) {
    this.#url = url;
  }

  async get(path: string): Promise<{ status: number; text: string; headers: Headers }> {
    const res = await fetch(`${this.#url}${path}`, { headers: this.cookie ? { cookie: this.cookie } : {} });
    const set = res.headers.get("set-cookie");
    if (set) this.cookie = set.split(";")[0] as string;
    return { status: res.status, text: await res.text(), headers: res.headers };
  }

  /** The CSRF token of the page at `path` (the page must show action forms). */
  async token(path = "/"): Promise<string> {
    const { text } = await this.get(path);
    const token = /name="_csrf" value="([^"]+)"/.exec(text)?.[1];
    if (!token) throw new Error(`no CSRF token on ${path}`);
    return token;
  }

  /** Posts an action form; `origin: null` leaves the Origin header out. */
  async post(fields: Record<string, string | string[]>, opts: { origin?: string | null; token?: string | null } = {}) {
    const form = new URLSearchParams();
    const token = opts.token === undefined ? await this.token() : opts.token;
    if (token !== null) form.set("_csrf", token);
    for (const [name, value] of Object.entries(fields)) for (const v of [value].flat()) form.append(name, v);
    const origin = opts.origin === undefined ? new URL(this.#url).origin : opts.origin;
    const res = await fetch(`${this.#url}/actions`, {
      method: "POST",
      redirect: "manual",
      headers: { "content-type": "application/x-www-form-urlencoded", ...(this.cookie ? { cookie: this.cookie } : {}), ...(origin !== null ? { origin } : {}) },
      body: form,
    });
    return { status: res.status, location: res.headers.get("location"), text: await res.text() };
  }
}
