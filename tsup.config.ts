import { defineConfig } from "tsup";

const entry = { index: "src/index.ts", postgres: "src/postgres.ts", "store-kit": "src/store-kit.ts", conformance: "src/conformance/index.ts", admin: "src/admin/index.ts", declarative: "src/declarative/index.ts", testing: "src/testing/index.ts" };

// superjson and p-limit (and their own dependencies) ship as ESM only. Node 20 cannot
// require() ESM, so the CommonJS build carries a bundled copy of them; the ESM build
// imports them as ordinary dependencies.
// The database drivers are the application's to install (better-sqlite3 an
// optional dependency, pg an optional peer); each is imported only by its store.
const drivers = ["vitest", "pg", "better-sqlite3"];

const esmOnlyDependencies = [/^superjson/, /^copy-anything/, /^is-what/, /^p-limit/, /^yocto-queue/];

// `TRELLIS_BUILD=js` (the example and bench scripts): JavaScript only. Declarations
// take most of a build's time and nothing that only runs the code reads them.
const dts = process.env.TRELLIS_BUILD !== "js";

export default defineConfig([
  // The `trellis` bin: ESM only (it is never require()d), no declarations.
  {
    entry: { cli: "src/cli/bin.ts" },
    format: ["esm"],
    dts: false,
    sourcemap: true,
    target: "node20",
    external: drivers,
    banner: { js: "#!/usr/bin/env node" },
  },
  {
    entry,
    format: ["esm"],
    dts,
    sourcemap: true,
    clean: true,
    target: "node20",
    external: drivers,
  },
  {
    entry,
    format: ["cjs"],
    // import.meta.url (used to find better-sqlite3 for the checkpoint thread) in CommonJS.
    shims: true,
    dts,
    sourcemap: true,
    target: "node20",
    external: drivers,
    noExternal: esmOnlyDependencies,
  },
]);
