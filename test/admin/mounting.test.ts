/**
 * The mounting recipes of docs/admin.md, in the servers they name: Express
 * (prefix stripped from req.url, kept in req.originalUrl) and Fastify (a
 * hijacked reply), each under /admin beside the application's own routes,
 * with a page, an asset, the live stream and an action through a form.
 */
import type { AddressInfo } from "node:net";
import express from "express";
import Fastify from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAdmin } from "../../src/admin/index.js";
import { newExecutor, newPackage, newRuntime, permanent, type Runtime } from "../../src/index.js";
import { stores } from "../support/stores.js";
import { FormClient } from "./fixture.js";

const [sqlite] = stores("admin_mount");
let rt: Runtime;
let runId: string;
beforeAll(async () => {
  rt = await newRuntime({ store: sqlite!.fresh() });
  rt.registerExecutor(newExecutor("m/fail", async () => {
    throw permanent("nope", new Error("no"));
  }));
  rt.registerPackage(newPackage("mounted").entrypoint(async (run) => void run.step("only", null, { kind: "m/fail" })).build());
  runId = (await rt.startRun("mounted", {})).id;
  await rt.runOnce();
});
afterAll(() => rt.close());

/** What both servers must do: serve under /admin, leave the rest to the app, accept an action. */
async function checkMounted(origin: string): Promise<void> {
  expect(await (await fetch(`${origin}/hello`)).text()).toBe("app");
  const client = new FormClient(`${origin}/admin`);
  const list = await client.get("/");
  expect(list.status).toBe(200);
  expect(list.text).toContain(`href="/admin/runs/${encodeURIComponent(runId)}"`);
  expect((await fetch(`${origin}/admin/assets/admin.css`)).headers.get("content-type")).toContain("text/css");
  const stream = await fetch(`${origin}/admin/live?run=${encodeURIComponent(runId)}`);
  const reader = stream.body!.pipeThrough(new TextDecoderStream()).getReader();
  expect((await reader.read()).value).toContain("event: ready");
  await reader.cancel();
  const res = await client.post({ action: "retry", runId, stepId: "only" }, { token: await client.token(`/runs/${encodeURIComponent(runId)}`) });
  expect(res.status).toBe(303);
  expect(res.location).toBe("/admin/?notice=retry");
  expect((await rt.steps(runId))[0]?.status).toBe("ready");
  await rt.runOnce(); // fails again: the next server starts from a failed step
}

describe("mounting the admin page", () => {
  it("in Express with app.use", async () => {
    const admin = createAdmin(rt, { basePath: "/admin", authorize: () => true });
    const app = express();
    app.use("/admin", (req, res) => admin.node(req, res));
    app.use(express.urlencoded({ extended: false })); // after the admin: it reads its own bodies
    app.get("/hello", (_req, res) => void res.send("app"));
    const server = app.listen(0, "127.0.0.1");
    await new Promise((resolve) => server.once("listening", resolve));
    try {
      await checkMounted(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it("in Fastify with a hijacked reply", async () => {
    const admin = createAdmin(rt, { basePath: "/admin", authorize: () => true });
    const fastify = Fastify();
    // In a plugin of its own: Fastify answers 415 to a form body it has no parser for,
    // and the admin reads its bodies itself; the app's parsers stay as they are.
    await fastify.register(async (scope) => {
      scope.removeAllContentTypeParsers();
      scope.addContentTypeParser("*", (_req, _payload, done) => done(null));
      for (const url of ["/admin", "/admin/*"]) {
        scope.all(url, (req, reply) => {
          reply.hijack();
          admin.node(req.raw, reply.raw);
        });
      }
    });
    fastify.get("/hello", async () => "app");
    fastify.post("/json", async (req) => req.body);
    const origin = await fastify.listen({ port: 0, host: "127.0.0.1" });
    try {
      await checkMounted(origin);
      const json = await fetch(`${origin}/json`, { method: "POST", headers: { "content-type": "application/json" }, body: '{"a":1}' });
      expect(await json.json()).toEqual({ a: 1 }); // the app's own JSON parser still works
    } finally {
      await fastify.close();
    }
  });
});
