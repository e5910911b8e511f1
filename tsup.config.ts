import { defineConfig } from "tsup";

const entry = { index: "src/index.ts", "store-kit": "src/store-kit.ts", conformance: "src/conformance/index.ts", declarative: "src/declarative/index.ts" };

// superjson and p-limit (and their own dependencies) ship as ESM only. Node 20 cannot
// require() ESM, so the CommonJS build carries a bundled copy of them; the ESM build
// imports them as ordinary dependencies.
const esmOnlyDependencies = [/^superjson/, /^copy-anything/, /^is-what/, /^p-limit/, /^yocto-queue/];

export default defineConfig([
  // The `trellis` bin: ESM only (it is never require()d), no declarations.
  {
    entry: { cli: "src/cli/bin.ts" },
    format: ["esm"],
    dts: false,
    sourcemap: true,
    target: "node20",
    banner: { js: "#!/usr/bin/env node" },
  },
  {
    entry,
    format: ["esm"],
    dts: true,
    sourcemap: true,
    clean: true,
    target: "node20",
    external: ["vitest"],
  },
  {
    entry,
    format: ["cjs"],
    // import.meta.url (used to find better-sqlite3 for the checkpoint thread) in CommonJS.
    shims: true,
    dts: true,
    sourcemap: true,
    target: "node20",
    external: ["vitest"],
    noExternal: esmOnlyDependencies,
  },
]);
