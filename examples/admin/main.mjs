// The admin page on an application with runs in every state.
//
//   npm run example:admin          (builds, then runs this file; Ctrl-C stops it)
//   node examples/admin/main.mjs 8080   (a fixed port)
//
// It keeps its runs in var/admin.db; each start adds a new set of runs.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { startAdminExample } from "./app.mjs";

const repoRoot = fileURLToPath(new URL("../..", import.meta.url));
fs.mkdirSync(path.join(repoRoot, "var"), { recursive: true });
const app = await startAdminExample(path.join(repoRoot, "var", "admin.db"), { port: Number(process.argv[2] ?? 0) });
console.log(`admin page: ${app.url}`);
for (const [state, handle] of Object.entries(app.started)) console.log(`  ${state.padEnd(10)} ${handle.id}`);
console.log("Ctrl-C stops the app.");
await new Promise((resolve) => {
  process.once("SIGINT", resolve);
  process.once("SIGTERM", resolve);
});
await app.stop();
