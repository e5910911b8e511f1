/**
 * `trellis/declarative` is its own entry point: it works from CommonJS and ESM,
 * and the root `trellis` import never loads its parsers (yaml, jsep).
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";

const root = path.resolve(import.meta.dirname, "../..");
const yaml = "ref: e.one\\nversion: '3'\\ntasks:\\n  - name: a\\n    action: core.noop\\n";

describe("the trellis/declarative entry point", () => {
  it("is declared in package.json and parses a definition from CommonJS and from ESM", () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8"));
    const entry = pkg.exports["./declarative"];
    for (const file of [entry.import.default, entry.import.types, entry.require.default, entry.require.types]) expect(fs.existsSync(path.join(root, file)), file).toBe(true);
    const cjs = execFileSync(process.execPath, ["-e", `const { parseWorkflow } = require(${JSON.stringify(path.join(root, entry.require.default))}); const p = parseWorkflow("${yaml}"); console.log(p.ref + "@" + p.version);`], { encoding: "utf8" });
    expect(cjs.trim()).toBe("e.one@3");
    const url = new URL(entry.import.default, `file://${root}/`).href;
    const esm = execFileSync(process.execPath, ["--input-type=module", "-e", `import { parseWorkflow } from ${JSON.stringify(url)}; const p = parseWorkflow("${yaml}"); console.log(p.ref + "@" + p.version);`], { encoding: "utf8" });
    expect(esm.trim()).toBe("e.one@3");
  });

  it("the root import loads neither yaml nor jsep", () => {
    const probe = `require(${JSON.stringify(path.join(root, "dist/index.cjs"))}); console.log(JSON.stringify(Object.keys(require.cache).filter((f) => /node_modules[\\\\/](yaml|jsep|@jsep-plugin)[\\\\/]/.test(f))));`;
    expect(JSON.parse(execFileSync(process.execPath, ["-e", probe], { encoding: "utf8" }))).toEqual([]);
    const esm = fs.readFileSync(path.join(root, "dist/index.js"), "utf8");
    expect(esm).not.toMatch(/from ["'](yaml|jsep|@jsep-plugin\/assignment)["']/);
  });
});
