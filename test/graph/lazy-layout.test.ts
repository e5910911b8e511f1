import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";

const root = path.resolve(import.meta.dirname, "../..");
const trace = path.join(root, "test/fixtures/trace-imports.mjs");

/** Runs an ESM program against the built package and returns every bare specifier it imported. */
function imports(program: string): string[] {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "trellis-trace-"));
  const file = path.join(dir, "imports.txt");
  try {
    fs.writeFileSync(file, "");
    const child = spawnSync(process.execPath, ["--import", trace, "--input-type=module", "-e", program], { cwd: root, encoding: "utf8", env: { ...process.env, TRELLIS_TRACE_IMPORTS: file } });
    expect(child.status, child.stderr).toBe(0);
    return fs.readFileSync(file, "utf8").split("\n").filter(Boolean);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

describe("the layout library", () => {
  const index = JSON.stringify(new URL("dist/index.js", `file://${root}/`).href);

  it("is not loaded by import \"trellis\", nor by the text renderers", () => {
    const loaded = imports(`const t = await import(${index}); t.renderMermaid({ nodes: [], edges: [] }); t.renderDot({ nodes: [], edges: [] });`);
    expect(loaded).toContain("superjson"); // the trace sees the root's own imports
    expect(loaded).not.toContain("better-sqlite3"); // nor is the SQLite driver loaded before a store opens
    expect(loaded.filter((s) => s.includes("dagre"))).toEqual([]);
  });

  it("loads from the CommonJS build too", () => {
    const cjs = JSON.stringify(path.join(root, "dist/index.cjs"));
    const program = `require(${cjs}).renderSvg({ nodes: [{ id: "a", label: "a", shape: "task", status: "failed" }], edges: [] }).then((svg) => process.stdout.write(svg))`;
    const child = spawnSync(process.execPath, ["-e", program], { cwd: root, encoding: "utf8" });
    expect(child.status, child.stderr).toBe(0);
    expect(child.stdout).toContain('data-node="a" data-status="failed"');
  });

  it("is loaded by the first renderSvg call", () => {
    const loaded = imports(`const t = await import(${index}); await t.renderSvg({ nodes: [{ id: "a", label: "a", shape: "task" }], edges: [] });`);
    expect(loaded).toContain("@dagrejs/dagre");
  });
});
