/**
 * `trellis graph <file>`: a declarative definition drawn by the shared
 * renderers, deterministic, with author errors reported like `validate`'s.
 */
import path from "node:path";
import { describe, expect, it } from "vitest";
import { inProcessCli } from "../support/cli.js";

const root = path.resolve(import.meta.dirname, "../..");
const deploy = "examples/declarative/workflows/deploy_application.yaml";
const trellis = inProcessCli(root);

describe("trellis graph", () => {
  it.each(["mermaid", "dot", "svg"])("draws a definition as %s, byte for byte the same each time", async (format) => {
    const first = await trellis("graph", deploy, "--format", format);
    const second = await trellis("graph", deploy, "--format", format);
    expect(first.code).toBe(0);
    expect(first.stdout).toBe(second.stdout);
    // Tasks of the seed's deployment workflow, and its rollback on failure.
    expect(first.stdout).toContain("rollback");
    expect(first.stdout).toContain(format === "svg" ? "<svg" : format === "dot" ? "digraph" : "flowchart");
  });

  it("defaults to mermaid", async () => {
    expect((await trellis("graph", deploy)).stdout).toBe((await trellis("graph", deploy, "--format", "mermaid")).stdout);
  });

  it("reports an author error as file:line:column and exits 2", async () => {
    const { code, stderr, stdout } = await trellis("graph", "test/declarative/fixtures/invalid/unknown-key.yaml");
    expect(code).toBe(2);
    expect(stdout).toBe("");
    expect(stderr).toMatch(/^test\/declarative\/fixtures\/invalid\/unknown-key\.yaml:\d+:\d+: /);
  });

  it("exits 2 on a format it does not know, and without exactly one file", async () => {
    expect((await trellis("graph", deploy, "--format", "png")).code).toBe(2);
    expect((await trellis("graph")).code).toBe(2);
    expect((await trellis("graph", "examples/declarative/workflows")).code).toBe(0); // one definition in the directory
  });
});
