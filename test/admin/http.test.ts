/**
 * The admin page over HTTP, without a browser: security (read-only, CSRF,
 * Origin, authorize, CSP, escaping), every action through its form on both
 * stores, filters and paging, and the live stream across runtimes.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAdmin } from "../../src/admin/index.js";
import { escapeHtml } from "../../src/admin/html.js";
import { newRuntime } from "../../src/index.js";
import { stores } from "../support/stores.js";
import { BASE, eventually, FormClient, startAdminApp, XSS, type AdminApp } from "./fixture.js";

describe.each(stores("admin"))("admin page actions on $name", (target) => {
  let app: AdminApp;
  let client: FormClient;
  const config = target.fresh();
  beforeAll(async () => {
    app = await startAdminApp(config);
    client = new FormClient(app.url);
  });
  afterAll(() => app.close());

  it("Retry (one step) and Retry run bring failed steps back, then redirect to the page they came from", async () => {
    app.failing.value = true;
    const a = await app.rt.startRun("demo", { n: 1 });
    const b = await app.rt.startRun("demo", { n: 2 });
    await app.rt.waitForRun(a.id, { timeout: 10_000 });
    await app.rt.waitForRun(b.id, { timeout: 10_000 });
    app.failing.value = false;
    // The list shows each run's failed steps, counted by the store.
    const listed = await client.get(`/?prefix=${encodeURIComponent(a.id)}`);
    expect(listed.text).toMatch(/<td class="failed-steps"><span class="warn">1<\/span><\/td>/);
    const back = `${BASE}/runs/${encodeURIComponent(a.id)}`;
    const retried = await client.post({ action: "retry", runId: a.id, stepId: "fetch", back });
    expect(retried.status).toBe(303);
    expect(retried.location).toBe(`${back}?notice=retry`);
    expect((await app.rt.waitForRun(a.id, { timeout: 10_000 })).status).toBe("succeeded");
    const run = await client.post({ action: "retry-run", runId: b.id });
    expect(run.status).toBe(303);
    expect((await app.rt.waitForRun(b.id, { timeout: 10_000 })).status).toBe("succeeded");
  });

  it("counts ready, running and waiting steps per queue on the queues page, from the store", async () => {
    const blocked = app.blockStarted();
    const blocker = await app.rt.startRun("blocker", null);
    await blocked;
    const waiting = await app.rt.startRun("approval", {});
    await eventually(async () => (await app.rt.steps(waiting.id)).some((s) => s.status === "waiting"), "the wait");
    // The counts are read at most once per statsInterval: poll until this read sees both.
    const cell = (text: string, status: string) => Number(new RegExp(`<tr data-queue="default">.*?<td data-status="${status}">(\\d+)</td>`, "s").exec(text)?.[1] ?? -1);
    const page = await eventually(async () => {
      const { text } = await client.get("/queues");
      return cell(text, "running") >= 1 && cell(text, "waiting") >= 1 ? text : undefined;
    }, "the queue counts");
    expect(page).toContain("Every process sharing the store");
    await app.rt.cancelRun(blocker.id);
    await app.rt.cancelRun(waiting.id);
  });

  it("Retry selected replays the ticked dead letters of the failed-steps view", async () => {
    app.failing.value = true;
    const runs = [await app.rt.startRun("demo", { n: 3 }), await app.rt.startRun("demo", { n: 4 })];
    for (const r of runs) await app.rt.waitForRun(r.id, { timeout: 10_000 });
    const page = await client.get("/failed");
    for (const r of runs) expect(page.text).toContain(`data-run-id="${r.id}"`);
    app.failing.value = false;
    const res = await client.post({ action: "retry-selected", step: runs.map((r) => JSON.stringify([r.id, "fetch"])) }, { token: await client.token("/failed") });
    expect(res.status).toBe(303);
    for (const r of runs) expect((await app.rt.waitForRun(r.id, { timeout: 10_000 })).status).toBe("succeeded");
  });

  it("Pause, Resume, Signal, Cancel run and Purge act on the run; an invalid state answers the WorkflowError message", async () => {
    const run = await app.rt.startRun("approval", {});
    await eventually(async () => (await app.rt.steps(run.id)).some((s) => s.status === "waiting"), "the wait");
    expect((await client.post({ action: "pause", runId: run.id })).status).toBe(303);
    expect((await app.rt.workflow(run.id))?.status).toBe("paused");
    const again = await client.post({ action: "pause", runId: run.id });
    expect(again.status).toBe(409);
    expect(again.text).toContain("invalid_state");
    expect(again.text).not.toMatch(/\n\s+at /); // no stack trace
    expect((await client.post({ action: "resume", runId: run.id })).status).toBe(303);
    const badJson = await client.post({ action: "signal", runId: run.id, name: "approve", payload: "{nope" });
    expect(badJson.status).toBe(400);
    expect(badJson.text).toContain("not valid JSON");
    expect((await client.post({ action: "signal", runId: run.id, name: "approve", payload: '{"by":"ada"}' })).status).toBe(303);
    expect((await app.rt.waitForRun(run.id, { timeout: 10_000 })).status).toBe("succeeded");
    expect((await app.rt.result(run.id, "approval"))?.data).toEqual({ by: "ada" });

    const blocked = await app.rt.startRun("blocker", {});
    await eventually(async () => (await app.rt.steps(blocked.id)).some((s) => s.status === "running"), "the blocking step");
    expect((await client.post({ action: "cancel-run", runId: blocked.id })).status).toBe(303);
    expect((await app.rt.waitForRun(blocked.id, { timeout: 10_000 })).status).toBe("canceled");

    const purged = await client.post({ action: "purge", before: "2999-01-01" });
    expect(purged.status).toBe(303);
    expect(purged.location).toMatch(/notice=purge&count=[1-9]\d*$/);
    expect(await app.rt.workflow(blocked.id)).toBeUndefined();
  });

  it("the live stream of a run page says change when another runtime on the same store moves the run", async () => {
    app.failing.value = true;
    const run = await app.rt.startRun("demo", { n: 5 });
    await app.rt.waitForRun(run.id, { timeout: 10_000 });
    app.failing.value = false;
    const stream = await fetch(`${app.url}/live?run=${encodeURIComponent(run.id)}`);
    expect(stream.headers.get("content-type")).toContain("text/event-stream");
    const reader = stream.body!.pipeThrough(new TextDecoderStream()).getReader();
    let seen = "";
    const until = async (text: string) => {
      while (!seen.includes(text)) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`stream ended before "${text}"`);
        seen += value;
      }
    };
    await until("event: ready");
    // Another runtime (its own connections, as another process would have) retries the step.
    const other = await newRuntime({ store: config });
    try {
      await other.retryStep(run.id, "fetch");
    } finally {
      await other.close();
    }
    await until("event: change");
    await reader.cancel();
  });
});

describe("admin page security", () => {
  const [sqlite] = stores("admin_sec");
  let app: AdminApp;
  beforeAll(async () => {
    app = await startAdminApp(sqlite!.fresh());
  });
  afterAll(() => app.close());

  it("sends a strict Content-Security-Policy and serves its script and style itself", async () => {
    const page = await new FormClient(app.url).get("/");
    const csp = page.headers.get("content-security-policy") ?? "";
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain("unsafe-inline");
    expect(page.text).not.toMatch(/<script>|<script [^>]*>[^<]|\son[a-z]+=|style="/);
    const js = await fetch(`${app.url}/assets/admin.js`);
    expect(js.headers.get("content-type")).toContain("text/javascript");
    expect(await js.text()).toContain("EventSource");
  });

  it("refuses a POST without the CSRF token, with another page's cookie, or from a foreign Origin (403), and changes nothing", async () => {
    app.failing.value = true;
    const run = await app.rt.startRun("demo", { n: 1 });
    await app.rt.waitForRun(run.id, { timeout: 10_000 });
    const client = new FormClient(app.url);
    const fields = { action: "retry", runId: run.id, stepId: "fetch" };
    const noToken = await client.post(fields, { token: null });
    expect(noToken.status).toBe(403);
    expect(noToken.text).toContain("CSRF");
    const stranger = new FormClient(app.url);
    const strangerToken = await stranger.token();
    expect((await client.post(fields, { token: strangerToken })).status).toBe(403);
    const foreign = await client.post(fields, { origin: "https://evil.example" });
    expect(foreign.status).toBe(403);
    expect(foreign.text).toContain("Origin");
    expect((await client.post(fields, { origin: null })).status).toBe(403);
    expect((await app.rt.steps(run.id)).find((s) => s.id === "fetch")?.status).toBe("failed");
  });

  it("without authorize (or with readOnly) shows no action and answers every POST 403", async () => {
    app.failing.value = true;
    const run = await app.rt.startRun("demo", { n: 2 });
    await app.rt.waitForRun(run.id, { timeout: 10_000 });
    for (const options of [{ basePath: BASE }, { basePath: BASE, authorize: () => true, readOnly: true }]) {
      const admin = createAdmin(app.rt, options);
      const page = await admin.fetch(new Request(`http://admin.test${BASE}/runs/${encodeURIComponent(run.id)}`));
      const text = await page.text();
      expect(text).toContain("read-only");
      expect(text).not.toContain(">Retry</button>");
      const cookie = page.headers.get("set-cookie")!.split(";")[0]!;
      const res = await admin.fetch(
        new Request(`http://admin.test${BASE}/actions`, {
          method: "POST",
          headers: { origin: "http://admin.test", cookie, "content-type": "application/x-www-form-urlencoded" },
          body: new URLSearchParams({ action: "cancel-run", runId: run.id }),
        }),
      );
      expect(res.status).toBe(403);
      expect(await res.text()).toContain("forbidden");
    }
    expect((await app.rt.workflow(run.id))?.status).toBe("failed");
  });

  it("tells onAction and the run's event log who did what and why; the run page shows both, escaped", async () => {
    const records: unknown[] = [];
    const admin = createAdmin(app.rt, { basePath: BASE, authorize: () => true, actor: (req) => req.headers.get("x-user") ?? "?", onAction: (r) => records.push(r) });
    const blocked = await app.rt.startRun("blocker", {});
    const page = await admin.fetch(new Request(`http://admin.test${BASE}/runs/${encodeURIComponent(blocked.id)}`));
    const text = await page.text();
    expect(text).toContain('name="reason"');
    const token = /name="_csrf" value="([^"]+)"/.exec(text)![1]!;
    const post = (action: string) =>
      admin.fetch(
        new Request(`http://admin.test${BASE}/actions`, {
          method: "POST",
          headers: { origin: "http://admin.test", cookie: page.headers.get("set-cookie")!.split(";")[0]!, "x-user": "ada", "content-type": "application/x-www-form-urlencoded" },
          body: new URLSearchParams({ _csrf: token, action, runId: blocked.id, reason: "  stuck import  " }),
        }),
      );
    expect((await post("cancel-run")).status).toBe(303);
    expect((await post("cancel-run")).status).toBe(409); // refused: not heard
    expect(records).toEqual([{ name: "cancel-run", runId: blocked.id, actor: "ada", reason: "stuck import" }]);
    const cancel = (await app.rt.events(blocked.id)).filter((e) => e.type === "operator_cancel");
    expect(cancel.map((e) => [e.actor, e.reason])).toEqual([["ada", "stuck import"]]);

    // Hostile names and reasons are data: stored as written, rendered inert.
    const hostile = await app.rt.startRun("approval", {});
    await eventually(async () => (await app.rt.steps(hostile.id)).some((s) => s.status === "waiting"), "the wait");
    const sneaky = createAdmin(app.rt, { basePath: BASE, authorize: () => true, actor: () => XSS });
    const form = await sneaky.fetch(new Request(`http://admin.test${BASE}/runs/${encodeURIComponent(hostile.id)}`));
    const formToken = /name="_csrf" value="([^"]+)"/.exec(await form.text())![1]!;
    const paused = await sneaky.fetch(
      new Request(`http://admin.test${BASE}/actions`, {
        method: "POST",
        headers: { origin: "http://admin.test", cookie: form.headers.get("set-cookie")!.split(";")[0]!, "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ _csrf: formToken, action: "pause", runId: hostile.id, reason: XSS }),
      }),
    );
    expect(paused.status).toBe(303);
    const logged = (await app.rt.events(hostile.id)).find((e) => e.type === "run_paused");
    expect([logged?.actor, logged?.reason]).toEqual([XSS, XSS]);
    const shown = await (await sneaky.fetch(new Request(`http://admin.test${BASE}/runs/${encodeURIComponent(hostile.id)}`))).text();
    const row = /<tr data-type="run_paused">.*?<\/tr>/s.exec(shown)?.[0] ?? "";
    expect(row).toContain(`<td class="actor">${escapeHtml(XSS)}</td><td class="reason">${escapeHtml(XSS)}</td>`);
    expect(shown).not.toContain(XSS);
    await app.rt.cancelRun(hostile.id);
  });

  it("pages the failed steps with a cursor", async () => {
    app.failing.value = true;
    for (const n of [1, 2]) await app.rt.waitForRun((await app.rt.startRun("demo", { page: n })).id, { timeout: 10_000 });
    const client = new FormClient(app.url);
    const first = await client.get("/failed?limit=1");
    const rowsOf = (html: string) => [...html.matchAll(/<tr data-step-id="[^"]*" data-run-id="([^"]+)"/g)].map((m) => m[1]);
    expect(rowsOf(first.text)).toHaveLength(1);
    const next = /rel="next" href="([^"]+)"/.exec(first.text)![1]!.replaceAll("&amp;", "&");
    const second = await client.get(next.slice(BASE.length));
    expect(rowsOf(second.text)).toHaveLength(1);
    expect(rowsOf(second.text)[0]).not.toBe(rowsOf(first.text)[0]);
  });

  it("refuses a form body over 1 MiB (413) and a body that is not a form (400), through fetch and node:http", async () => {
    const admin = createAdmin(app.rt, { basePath: BASE, authorize: () => true });
    const post = (body: string, type: string) =>
      admin.fetch(new Request(`http://admin.test${BASE}/actions`, { method: "POST", headers: { origin: "http://admin.test", "content-type": type }, body }));
    const huge = new ReadableStream({
      start(controller) {
        for (let i = 0; i < 20; i++) controller.enqueue(new Uint8Array(64 * 1024).fill(97)); // no content-length: read until too much
        controller.close();
      },
    });
    const tooLarge = await admin.fetch(
      new Request(`http://admin.test${BASE}/actions`, { method: "POST", headers: { origin: "http://admin.test", "content-type": "application/x-www-form-urlencoded" }, body: huge, duplex: "half" } as RequestInit),
    );
    expect(tooLarge.status).toBe(413);
    expect((await post('{"action":"purge"}', "application/json")).status).toBe(400);
    const viaNode = await fetch(`${app.url}/actions`, { method: "POST", headers: { origin: new URL(app.url).origin, "content-type": "application/x-www-form-urlencoded" }, body: "a".repeat(1_100_000) });
    expect(viaNode.status).toBe(413);
  });

  it("asks authorize about each action, and a no stops it", async () => {
    const asked: string[] = [];
    const admin = createAdmin(app.rt, { basePath: BASE, authorize: (_req, action) => (asked.push(action.name), action.name !== "cancel-run") });
    const blocked = await app.rt.startRun("blocker", {});
    const page = await admin.fetch(new Request(`http://admin.test${BASE}/runs/${encodeURIComponent(blocked.id)}`));
    const token = /name="_csrf" value="([^"]+)"/.exec(await page.text())![1]!;
    const res = await admin.fetch(
      new Request(`http://admin.test${BASE}/actions`, {
        method: "POST",
        headers: { origin: "http://admin.test", cookie: page.headers.get("set-cookie")!.split(";")[0]!, "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ _csrf: token, action: "cancel-run", runId: blocked.id }),
      }),
    );
    expect(res.status).toBe(403);
    expect(asked).toEqual(["cancel-run"]);
    expect((await app.rt.workflow(blocked.id))?.status).not.toBe("canceled");
    await app.rt.cancelRun(blocked.id);
  });

  it("escapes step names, inputs and errors: the raw HTML holds no markup of theirs", async () => {
    const run = await app.rt.startRun("xss", { note: XSS }, { metadata: { [XSS]: XSS } });
    await app.rt.waitForRun(run.id, { timeout: 10_000 });
    const client = new FormClient(app.url);
    for (const path of ["/", `/runs/${encodeURIComponent(run.id)}`, `/runs/${encodeURIComponent(run.id)}/steps/${encodeURIComponent(XSS)}`, "/failed"]) {
      const { status, text } = await client.get(path);
      expect(status).toBe(200);
      expect(text).not.toContain("<script>window");
      expect(text).not.toContain("<img src=x");
      expect(text).toContain("&lt;script&gt;window.__pwned = 1&lt;/script&gt;&quot;&#39;&gt;&lt;img src=x onerror=&quot;");
    }
    // The run page draws the run's graph, the hostile step among its nodes, escaped by the renderer.
    const runPage = await client.get(`/runs/${encodeURIComponent(run.id)}`);
    expect(runPage.text).toMatch(/<div class="graph-picture"><svg [^>]*>/);
    expect(runPage.text).toMatch(/<g [^>]*data-node="[^"]*&#60;script&#62;window/);
  });

  it("filters by metadata, id prefix and created-at range, and bounds the page size", async () => {
    const tagged = await app.rt.startRun("demo", { n: 9 }, { runId: "filter-me-1", metadata: { tenant: "acme" } });
    await app.rt.startRun("demo", { n: 10 }, { runId: "filter-other-1", metadata: { tenant: "globex" } });
    const client = new FormClient(app.url);
    const byMeta = await client.get("/?meta=tenant%3Dacme");
    expect(byMeta.text).toContain(`data-run-id="${tagged.id}"`);
    expect(byMeta.text).not.toContain('data-run-id="filter-other-1"');
    const byPrefix = await client.get("/?prefix=filter-o");
    expect(byPrefix.text).toContain('data-run-id="filter-other-1"');
    expect(byPrefix.text).not.toContain(`data-run-id="${tagged.id}"`);
    expect((await client.get("/?from=2999-01-01")).text).toContain("No runs match.");
    expect((await client.get("/?to=2999-01-01&prefix=filter-")).text).toContain(`data-run-id="${tagged.id}"`);
    const bad = await client.get("/?from=yesterday");
    expect(bad.status).toBe(400);
    expect(bad.text).toContain("is not a date");
    const onePerPage = await client.get("/?limit=1&prefix=filter-");
    expect(onePerPage.text.match(/<tr data-run-id=/g)).toHaveLength(1);
    expect(onePerPage.text).toContain('rel="next"');
    // Newest first: filter-other-1, then the tagged run, which is the last page.
    expect(onePerPage.text).toContain('data-run-id="filter-other-1"');
    const lastPage = await client.get("/?limit=1&after=filter-other-1&prefix=filter-");
    expect(lastPage.text).toContain(`data-run-id="${tagged.id}"`);
    expect(lastPage.text).not.toContain('rel="next"');
    const huge = await client.get("/?limit=100000");
    expect(huge.status).toBe(200);
  });

  it("answers only under its base path, and 404 with the message for an unknown run", async () => {
    const outside = await fetch(app.url.replace(BASE, "/elsewhere"));
    expect(outside.status).toBe(404);
    const unknown = await new FormClient(app.url).get("/runs/no-such-run");
    expect(unknown.status).toBe(404);
    expect(unknown.text).toContain("no run &quot;no-such-run&quot;");
  });
});
