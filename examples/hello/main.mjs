// The program from API.md, runnable as is: two steps on a SQLite file.
//
//   npm run demo                       (builds, then runs this file)
//   node examples/hello/main.mjs "any message"
//
// It imports the build (../../dist), so run `npm run build` first if you call
// node directly. Each invocation starts a new run in var/hello.db; earlier runs
// stay in the file.
import { randomUUID } from "node:crypto";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { z } from "zod";
import { newRuntime, newPackage, newTypedExecutor, permanent, requireSteps, sqliteStore } from "../../dist/index.js";

const repoRoot = fileURLToPath(new URL("../..", import.meta.url));
const dbFile = path.join(repoRoot, "var", "hello.db");
const message = process.argv[2] ?? "hello, trellis";

const rt = await newRuntime({ store: sqliteStore(dbFile) });

rt.registerExecutor(
  newTypedExecutor("hello/echo", z.object({ message: z.string() }), async (step, input) => {
    if (input.message === "") throw permanent("empty_message", new Error("message is required"));
    step.result({ echoed: input.message });
  }),
);
rt.registerExecutor(
  newTypedExecutor("hello/shout", z.object({}), async (step) => {
    const prev = await step.dependencyData("root");
    step.result({ shouted: prev.echoed.toUpperCase() });
  }),
);

rt.registerPackage(
  newPackage("hello")
    .displayName("Hello")
    .entrypoint(z.object({ message: z.string() }), async (run, input) => {
      const root = run.step("root", input, { kind: "hello/echo" });
      run.step("shout", {}, { kind: "hello/shout", dependsOn: requireSteps(root) });
    })
    .build(),
);

const started = performance.now();
const handle = await rt.startRun("hello", { message }, { runId: `hello-${randomUUID()}` });

// The application owns the worker lifecycle: abort the signal to stop them.
const ac = new AbortController();
const workers = rt.startWorkers({ signal: ac.signal });

const run = await rt.waitForRun(handle.id, { timeout: 10_000 });
const elapsed = performance.now() - started;
ac.abort();
await workers;

console.log(`run ${run.id} (${run.name}): ${run.status} in ${elapsed.toFixed(0)} ms`);
console.log(`database: ${path.relative(process.cwd(), dbFile) || dbFile}`);
const shout = await rt.result(handle.id, "shout");
if (!shout) console.log("shout result: none (the step did not run)");
else if (shout.error) console.log(`shout failed: ${shout.error.code}: ${shout.error.message}`);
else console.log("shout result:", shout.data);
console.log("steps:");
for (const s of await rt.steps(handle.id)) {
  const error = s.lastError ? `  last error ${s.lastError.code}: ${s.lastError.message}` : "";
  console.log(`  ${s.id.padEnd(6)} ${s.kind.padEnd(12)} ${s.status.padEnd(9)} attempt ${s.attempt}/${s.maxAttempts}${error}`);
}

await rt.close();
process.exitCode = run.status === "succeeded" ? 0 : 1;

