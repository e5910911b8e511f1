/**
 * `trellis validate` and `trellis run` as a user runs them: the built bin in a
 * child process, on a SQLite file and on a Postgres schema.
 */
import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { binCli } from "../support/cli.js";
import { pgUrl, usePostgresSchemas } from "../support/postgres.js";

const root = path.resolve(import.meta.dirname, "../..");
const example = "examples/declarative/workflows";
const executors = "examples/declarative/executors.mjs";
const fixtures = "test/declarative/fixtures";
const trellis = binCli(root);
const exec = promisify(execFile);

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "trellis-cli-decl-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const schemas = usePostgresSchemas("clidecl");

describe("trellis validate", () => {
  it("prints ok <ref>@<version> per definition and exits 0", async () => {
    const { code, stdout } = await trellis("validate", example, `${fixtures}/cli/fails.yaml`);
    expect(code).toBe(0);
    expect(stdout).toBe("ok my_pack.deploy_application@1.0.0\nok cli.fails@2\n");
  });

  it("prints one file:line:column: message line per error and exits 1", async () => {
    const { code, stdout } = await trellis("validate", `${fixtures}/invalid/unknown-key.yaml`, `${fixtures}/invalid/loop.yaml`);
    expect(code).toBe(1);
    expect(stdout).toBe(
      [
        `${fixtures}/invalid/unknown-key.yaml:6:5: unknown key "on_sucess"; did you mean "on_success"?`,
        `${fixtures}/invalid/unknown-key.yaml:9:24: unknown key "dealy"; did you mean "delay"?`,
        `${fixtures}/invalid/unknown-key.yaml:11:9: unknown key "whn"; did you mean "when"?`,
        `${fixtures}/invalid/loop.yaml:10:11: unbounded loop: "b" leads back to "a"; give a task on the loop max_iterations`,
        "",
      ].join("\n"),
    );
  });

  it("exits 2 without a file, or with one that does not exist", async () => {
    expect((await trellis("validate")).code).toBe(2);
    const missing = await trellis("validate", "nope.yaml");
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("nope.yaml: no such file or directory");
  });
});

describe("npm run example:declarative", () => {
  it("shows the success path and the failure path that rolls back, cleans up and notifies", async () => {
    const { stdout } = await exec(process.execPath, [path.join(root, "examples/declarative/main.mjs")], { cwd: root });
    const runs = stdout.split("\nrun ").slice(1);
    expect(runs).toHaveLength(2);
    expect(runs[0]).toMatch(/^\S+: succeeded\n/);
    expect(runs[0]).toContain('output: {"deployment_id":"dep-shop-1.4.0","status":"success","deployed_version":"1.4.0"}');
    expect(runs[0]).toContain("slack: #deployments: ✅ Deployed shop v1.4.0 to staging");
    expect(runs[1]).toMatch(/^\S+: succeeded\n/);
    for (const line of [/health_check +http\.get +failed \(unhealthy\)/, /rollback_deployment +kubernetes\.rollback_deployment +succeeded/, /cleanup_deployment +my_pack\.cleanup_resources +succeeded/, /notify_failure +slack\.post_message +succeeded/]) {
      expect(runs[1]).toMatch(line);
    }
    expect(runs[1]).toContain('"status":"rolled_back"');
    expect(runs[1]).toContain("slack: #deployments: ❌ Failed to deploy shop v1.5.0-broken");
  });
});

describe.each([
  { name: "sqlite", store: () => `sqlite:${path.join(tmp, `cli-${Math.random().toString(36).slice(2)}.db`)}` },
  { name: "postgres", store: () => `${pgUrl()}${pgUrl().includes("?") ? "&" : "?"}schema=${schemas.schema()}` },
])("trellis run on $name", ({ store }) => {
  it("runs the example's success path: a line per task transition, the JSON last, exit 0", async () => {
    const input = JSON.stringify({ app_name: "shop", version: "1.4.0" });
    const { code, stdout } = await trellis("run", example, "--executors", executors, "--store", store(), "--input", input, "--json");
    expect(code).toBe(0);
    const lines = stdout.trim().split("\n");
    expect(lines.filter((l) => / {2}(\S+) {2}succeeded$/.test(l)).map((l) => l.trim().split(/\s+/)[2])).toEqual([
      "create_deployment", "build_image", "deploy_containers", "wait_for_ready", "health_check", "update_deployment_status", "notify_success",
    ]);
    const last = JSON.parse(lines.at(-1) as string);
    expect(last).toMatchObject({ status: "succeeded", output: { deployment_id: "dep-shop-1.4.0", status: "success", deployed_version: "1.4.0" } });
    expect(typeof last.id).toBe("string");
  });

  it("runs the example's failure path: the failed health check is rolled back, cleaned up and notified, and the run succeeds", async () => {
    const input = JSON.stringify({ app_name: "shop", version: "1.5.0-broken" });
    const { code, stdout } = await trellis("run", example, "--executors", executors, "--store", store(), "--input", input, "--json");
    expect(code).toBe(0);
    const lines = stdout.trim().split("\n");
    expect(lines).toContainEqual(expect.stringMatching(/ {2}health_check {2}failed \(unhealthy: GET https:\/\/shop\.example\/health\?version=1\.5\.0-broken answered 503, expected 200\)$/));
    expect(lines.filter((l) => / {2}(\S+) {2}succeeded$/.test(l)).map((l) => l.trim().split(/\s+/)[2])).toEqual([
      "create_deployment", "build_image", "deploy_containers", "wait_for_ready", "rollback_deployment", "cleanup_deployment", "notify_failure",
    ]);
    expect(JSON.parse(lines.at(-1) as string)).toMatchObject({
      status: "succeeded",
      output: { deployment_id: "dep-shop-1.5.0-broken", status: "rolled_back", deployed_version: "1.5.0-broken" },
    });
  });

  it("exits 1 when the run fails, and 2 for input the parameters refuse", async () => {
    const failed = await trellis("run", `${fixtures}/cli/fails.yaml`, "--executors", `${fixtures}/cli/executors.mjs`, "--store", store(), "--json");
    expect(failed.code).toBe(1);
    expect(failed.stdout).toContain("work  failed (nope: this task always fails)");
    expect(JSON.parse(failed.stdout.trim().split("\n").at(-1) as string)).toMatchObject({ status: "failed", output: null });
    const refused = await trellis("run", example, "--executors", executors, "--store", store(), "--input", '{"version":"1"}');
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain("--input: app_name:");
  });
});
