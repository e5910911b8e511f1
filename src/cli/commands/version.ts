import { createRequire } from "node:module";
import { ExitCodes, type CliCommand } from "../command.js";

export const versionCommand: CliCommand = {
  async run(_argv, io) {
    // package.json sits one level above dist/ (the built bin) and two above src/cli/commands.
    const require = createRequire(import.meta.url);
    let version = "unknown";
    for (const candidate of ["../package.json", "../../../package.json"]) {
      try {
        const pkg = require(candidate) as { name?: string; version?: string };
        if (pkg.name === "trellis" && pkg.version) {
          version = pkg.version;
          break;
        }
      } catch {
        // not at this depth; try the next
      }
    }
    io.stdout.write(`trellis ${version}\n`);
    return ExitCodes.ok;
  },
};
