/**
 * `trellis run` over a directory of definitions (`*.yaml` and `*.yml`):
 * `--workflow` picks one (default: the first file's), `--input @file` reads the
 * input from a file, and a workflow or input file that is not there is a usage
 * error (exit 2).
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { inProcessCli } from "../support/cli.js";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "trellis-cli-run-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
fs.mkdirSync(path.join(tmp, "pack"));
fs.writeFileSync(path.join(tmp, "pack/a.yaml"), `ref: cli.a\nversion: "1"\ntasks:\n  - name: only\n    action: core.noop\noutput_map:\n  which: a\n`);
fs.writeFileSync(
  path.join(tmp, "pack/b.yml"),
  `ref: cli.b\nversion: "1"\nparameters:\n  msg: { type: string, required: true }\ntasks:\n  - name: only\n    action: core.noop\n    input: { msg: "{{ parameters.msg }}" }\noutput_map:\n  which: b\n  msg: "{{ task.only.result.msg | upper }}"\n`,
);
fs.writeFileSync(path.join(tmp, "executors.mjs"), "export default [];\n");
fs.writeFileSync(path.join(tmp, "input.json"), JSON.stringify({ msg: "hi" }));
const trellis = inProcessCli(tmp);
let n = 0;
const store = () => `sqlite:${path.join(tmp, `run-${++n}.db`)}`;
const last = (stdout: string) => JSON.parse(stdout.trim().split("\n").at(-1) as string) as { status: string; output: unknown };

describe("trellis run over a directory", () => {
  it("runs the first definition by default, and the one --workflow names with --input @file", async () => {
    const first = await trellis("run", "pack", "--executors", "executors.mjs", "--store", store(), "--json");
    expect(first.code).toBe(0);
    expect(last(first.stdout)).toMatchObject({ status: "succeeded", output: { which: "a" } });
    const named = await trellis("run", "pack", "--executors", "executors.mjs", "--workflow", "cli.b", "--input", "@input.json", "--store", store(), "--json");
    expect(named.code).toBe(0);
    expect(last(named.stdout)).toMatchObject({ status: "succeeded", output: { which: "b", msg: "HI" } });
  });

  it("exits 2 for a workflow that is not in the directory, and for an input file that is not there", async () => {
    const unknown = await trellis("run", "pack", "--executors", "executors.mjs", "--workflow", "cli.c", "--store", store());
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("--workflow cli.c: no such definition (have cli.a, cli.b)");
    const missing = await trellis("run", "pack", "--executors", "executors.mjs", "--workflow", "cli.b", "--input", "@nope.json", "--store", store());
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("--input @nope.json: cannot read the file");
  });
});
