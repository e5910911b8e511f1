/**
 * The package as an application installs it: `npm pack`, unpacked into a scratch
 * app's node_modules next to only the driver that app uses. An app on SQLite has
 * no `pg` at all, one on PostgreSQL no `better-sqlite3`: a run must succeed in
 * each (loading the missing driver would throw), from ESM and from CommonJS, and
 * the shipped declarations must type-check with `skipLibCheck: false` without
 * the other driver's (or any driver's) type declarations.
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("../..", import.meta.url));
const repoModules = path.join(root, "node_modules");
/** What trellis itself needs at runtime, whichever store an app uses. */
const runtimeDependencies = ["superjson", "copy-anything", "is-what", "p-limit", "yocto-queue", "zod", "@standard-schema/spec"];

let work: string;
let tarball: string;

beforeAll(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), "trellis-installed-"));
  // npm test has built dist/ already; prepack would build it again.
  const out = execFileSync("npm", ["pack", "--ignore-scripts", "--json", "--pack-destination", work], { cwd: root, encoding: "utf8" });
  tarball = path.join(work, (JSON.parse(out) as { filename: string }[])[0]?.filename as string);
});
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

/** A scratch app: trellis unpacked from the tarball, and links to the given packages only. */
function scratchApp(name: string, packages: string[]): string {
  const app = path.join(work, name);
  const modules = path.join(app, "node_modules");
  fs.mkdirSync(path.join(modules, "trellis"), { recursive: true });
  execFileSync("tar", ["xzf", tarball, "-C", path.join(modules, "trellis"), "--strip-components=1"]);
  for (const p of [...runtimeDependencies, ...packages]) {
    fs.mkdirSync(path.dirname(path.join(modules, p)), { recursive: true });
    fs.symlinkSync(path.join(repoModules, p), path.join(modules, p), "dir");
  }
  fs.writeFileSync(path.join(app, "package.json"), JSON.stringify({ name, private: true }));
  return app;
}

const body = (store: string) => `
  const rt = await newRuntime({ store: ${store} });
  rt.registerExecutor(newExecutor("greet", async (step) => step.result({ hello: step.input() })));
  rt.registerPackage(newPackage("app").entrypoint((run, input) => { run.step("greet", input, { kind: "greet" }); }).build());
  const { id } = await rt.startRun("app", "world");
  const workers = new AbortController();
  rt.startWorkers(workers.signal);
  const run = await rt.waitForRun(id, { timeout: 30000 });
  workers.abort();
  const loaded = Object.keys(require.cache).filter((f) => /node_modules[\\\\/](pg|better-sqlite3)[\\\\/]/.test(f)).map((f) => f.match(/node_modules[\\\\/](pg|better-sqlite3)[\\\\/]/)[1]);
  console.log(JSON.stringify({ status: run.status, drivers: [...new Set(loaded)] }));
  await rt.close();
`;

function runApp(app: string, file: string, source: string): { status: string; drivers: string[] } {
  fs.writeFileSync(path.join(app, file), source);
  const out = execFileSync(process.execPath, [file], { cwd: app, encoding: "utf8", env: { ...process.env } });
  return JSON.parse(out.trim().split("\n").pop() as string);
}

function typecheck(app: string, source: string): string {
  fs.writeFileSync(path.join(app, "app.ts"), source);
  fs.writeFileSync(
    path.join(app, "tsconfig.json"),
    JSON.stringify({ compilerOptions: { strict: true, noEmit: true, skipLibCheck: false, module: "nodenext", moduleResolution: "nodenext", target: "es2022", types: ["node"] }, files: ["app.ts"] }),
  );
  try {
    return execFileSync(process.execPath, [path.join(repoModules, "typescript/bin/tsc"), "-p", app], { encoding: "utf8" });
  } catch (err) {
    throw new Error(`tsc failed:\n${(err as { stdout: string }).stdout}`);
  }
}

describe("an installed app on SQLite only (no pg installed)", () => {
  let app: string;
  beforeAll(() => {
    app = scratchApp("sqlite-app", ["better-sqlite3", "@types/node"]);
  });

  it("runs from ESM and loads no pg", () => {
    const db = JSON.stringify(path.join(app, "esm.db"));
    const result = runApp(app, "main.mjs", `import { createRequire } from "node:module";
import { newRuntime, newExecutor, newPackage, sqliteStore } from "trellis";
const require = createRequire(import.meta.url);
${body(`sqliteStore(${db})`)}`);
    expect(result).toEqual({ status: "succeeded", drivers: ["better-sqlite3"] });
  });

  it("runs from CommonJS and loads no pg", () => {
    const db = JSON.stringify(path.join(app, "cjs.db"));
    const result = runApp(app, "main.cjs", `const { newRuntime, newExecutor, newPackage, sqliteStore } = require("trellis");
(async () => {${body(`sqliteStore(${db})`)}})();`);
    expect(result).toEqual({ status: "succeeded", drivers: ["better-sqlite3"] });
  });

  it("runs trellis/testing from ESM and CommonJS without pg", () => {
    const test = `const env = await createTestRuntime();
  env.rt.registerExecutor(newExecutor("greet", async (step) => step.result({ at: step.now })));
  env.rt.registerPackage(newPackage("app").entrypoint((run) => { run.step("greet", null, { kind: "greet", delay: 60000 }); }).build());
  const run = await env.execute("app", null);
  await env.advance(60000);
  await env.runUntilIdle();
  console.log(JSON.stringify({ status: run.status + "/" + (await env.rt.workflow(run.id)).status, drivers: [] }));
  await env.close();`;
    const esm = runApp(app, "testing.mjs", `import { newExecutor, newPackage } from "trellis";
import { createTestRuntime } from "trellis/testing";
${test}`);
    const cjs = runApp(app, "testing.cjs", `const { newExecutor, newPackage } = require("trellis");
const { createTestRuntime } = require("trellis/testing");
(async () => { ${test} })();`);
    expect([esm, cjs]).toEqual([{ status: "running/succeeded", drivers: [] }, { status: "running/succeeded", drivers: [] }]);
  });

  it("type-checks with skipLibCheck: false and no driver type declarations", () => {
    typecheck(app, `import { newRuntime, newPackage, sqliteStore, type CycleResult, type WorkflowRun } from "trellis";
import { createTestRuntime } from "trellis/testing";
const pkg = newPackage("p").entrypoint((run) => { run.step("s", 1, { kind: "k" }); }).build();
export async function testing(): Promise<number> {
  const env = await createTestRuntime({ start: new Date(0) });
  await env.advance(1);
  const idle: CycleResult = await env.runUntilIdle({ maxSteps: 10 });
  await env.close();
  return idle.claimed + env.now();
}
export async function main(): Promise<WorkflowRun> {
  const rt = await newRuntime({ store: sqliteStore("./x.db") });
  rt.registerPackage(pkg);
  const { id } = await rt.startRun("p", null);
  return rt.waitForRun(id);
}
`);
  });
});

describe("an installed app on PostgreSQL only (no better-sqlite3 installed)", () => {
  let app: string;
  const schema = `installed_${process.pid}_${Date.now()}`;
  beforeAll(() => {
    app = scratchApp("postgres-app", ["pg", "pg-types", "pg-protocol", "pg-pool", "pg-connection-string", "pgpass", "pg-int8", "postgres-array", "postgres-bytea", "postgres-date", "postgres-interval", "split2", "xtend", "@types/node"].filter((p) => fs.existsSync(path.join(repoModules, p))));
  });
  afterAll(async () => {
    const pg = (await import("pg")).default;
    const client = new pg.Client({ connectionString: process.env.TRELLIS_TEST_PG_URL });
    await client.connect();
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await client.end();
  });

  it("runs from ESM and loads no better-sqlite3", () => {
    const store = `postgresStore({ connectionString: ${JSON.stringify(process.env.TRELLIS_TEST_PG_URL)}, schema: ${JSON.stringify(schema)} })`;
    const result = runApp(app, "main.mjs", `import { createRequire } from "node:module";
import { newRuntime, newExecutor, newPackage } from "trellis";
import { postgresStore } from "trellis/postgres";
const require = createRequire(import.meta.url);
${body(store)}`);
    expect(result).toEqual({ status: "succeeded", drivers: ["pg"] });
  });

  it("type-checks with skipLibCheck: false without @types/pg", () => {
    expect(fs.existsSync(path.join(app, "node_modules/@types/pg"))).toBe(false);
    typecheck(app, `import { newRuntime } from "trellis";
import { postgresStore, PostgresArtifactStore } from "trellis/postgres";
export async function main(): Promise<void> {
  const rt = await newRuntime({ store: postgresStore({ connectionString: "postgres://localhost/app" }), artifactStore: new PostgresArtifactStore({ connectionString: "postgres://localhost/app" }) });
  await rt.close();
}
`);
  });
});
