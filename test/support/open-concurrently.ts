/**
 * Opens one store from several child processes at the same moment (each waits
 * for "go"), through test/fixtures/open-store.mjs; resolves with each child's
 * report. `storeArg` is that fixture's argument: a SQLite path or Postgres JSON.
 */
import { fork } from "node:child_process";
import { fileURLToPath } from "node:url";

const fixture = fileURLToPath(new URL("../fixtures/open-store.mjs", import.meta.url));

export async function openConcurrently(storeArg: string, processes = 4): Promise<{ ok: boolean; error?: string }[]> {
  const children = Array.from({ length: processes }, () => fork(fixture, [storeArg], { stdio: ["ignore", "inherit", "inherit", "ipc"] }));
  const reports = children.map(
    (child) =>
      new Promise<{ ok: boolean; error?: string }>((resolve, reject) => {
        child.on("message", (m) => m !== "ready" && resolve(m as { ok: boolean }));
        child.on("exit", (code) => code !== 0 && reject(new Error(`child exited with ${code}`)));
      }),
  );
  await Promise.all(children.map((child) => new Promise<void>((resolve) => child.once("message", () => resolve()))));
  for (const child of children) child.send("go");
  return Promise.all(reports);
}
