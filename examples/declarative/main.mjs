// The seed's deploy_application.yaml, run by trellis: a success path, and a failure
// path (the health check fails) that rolls back, cleans up and notifies.
//
//   npm run example:declarative                (builds, then runs this file)
//
// The same definition runs from the command line too:
//   node dist/cli.js run examples/declarative/workflows --executors examples/declarative/executors.mjs \
//     --input '{"app_name":"shop","version":"1.4.0"}' --json
import path from "node:path";
import { fileURLToPath } from "node:url";
import { newRuntime, sqliteStore } from "../../dist/index.js";
import { loadWorkflows } from "../../dist/declarative.js";
import register, { config, messages } from "./executors.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const rt = await newRuntime({ store: sqliteStore(path.join(here, "../../var/declarative.db")) });
for (const pkg of await loadWorkflows(path.join(here, "workflows"), { config })) rt.registerPackage(pkg);
register(rt);

const ac = new AbortController();
const workers = rt.startWorkers({ signal: ac.signal });
let failed = false;
for (const version of ["1.4.0", "1.5.0-broken"]) {
  messages.length = 0;
  const { id } = await rt.startRun("my_pack.deploy_application", { app_name: "shop", version, environment: "staging" });
  const run = await rt.waitForRun(id, { timeout: 30_000 });
  const tasks = (await rt.steps(id)).filter((s) => s.metadata["declarative.role"] === undefined);
  console.log(`\nrun ${id}: ${run.status}`);
  for (const s of tasks.sort((a, b) => a.createdAt - b.createdAt || a.id.localeCompare(b.id))) {
    console.log(`  ${s.id.padEnd(26)} ${s.kind.padEnd(34)} ${s.status}${s.lastError ? ` (${s.lastError.code})` : ""}`);
  }
  console.log("  output:", JSON.stringify(await rt.output(id)));
  console.log("  slack:", messages.join(" | "));
  failed ||= run.status !== "succeeded";
}
ac.abort();
await workers;
await rt.close();
process.exitCode = failed ? 1 : 0;
