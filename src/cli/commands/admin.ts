/**
 * `trellis admin --store <url> [--port N] [--host 127.0.0.1] [--allow-actions]`:
 * serves the admin page (`trellis/admin`) for a store, standalone, until SIGINT
 * or SIGTERM. Read-only unless `--allow-actions`. It runs no workers: an action
 * such as Retry makes work ready, and the application's workers do it.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { parseArgs } from "node:util";
import { ErrorCodes, WorkflowError } from "../../errors.js";
import { ExitCodes, type CliCommand } from "../command.js";
import { DEFAULT_STORE_URL, storeFromUrl } from "../store-url.js";

const USAGE = `usage: trellis admin [--store <url>] [--port N] [--host H] [--allow-actions]

Serves the admin page for a store until interrupted.

  --store <url>      sqlite:<path> or postgres://...?schema=x (default ${DEFAULT_STORE_URL})
  --port <N>         port to listen on (default 8080; 0 picks a free one)
  --host <H>         address to listen on (default 127.0.0.1)
  --allow-actions    show and accept Retry, Cancel run, ... (default: read-only)
`;

interface AdminArgs {
  store: string;
  port: number;
  host: string;
  allowActions: boolean;
}

function parse(argv: string[]): AdminArgs | "help" {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        store: { type: "string" },
        port: { type: "string" },
        host: { type: "string" },
        "allow-actions": { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    throw new WorkflowError(ErrorCodes.invalidArgument, (err as Error).message);
  }
  if (values.help) return "help";
  const port = Number(values.port ?? 8080);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new WorkflowError(ErrorCodes.invalidArgument, `--port ${values.port}: expected a port number`);
  return { store: values.store ?? DEFAULT_STORE_URL, port, host: values.host ?? "127.0.0.1", allowActions: values["allow-actions"] ?? false };
}

function listen(server: http.Server, port: number, host: string): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    server.once("error", (err) => reject(new WorkflowError(ErrorCodes.invalidArgument, `cannot listen on ${host}:${port}: ${err.message}`)));
    server.listen(port, host, () => resolve(server.address() as AddressInfo));
  });
}

export const adminCommand: CliCommand = {
  async run(argv, io) {
    const args = parse(argv);
    if (args === "help") {
      io.stdout.write(USAGE);
      return ExitCodes.ok;
    }
    const store = await storeFromUrl(args.store, io.cwd);
    const [{ newRuntime }, { createAdmin }] = await Promise.all([import("../../engine/new-runtime.js"), import("../../admin/index.js")]);
    const rt = await newRuntime({ store });
    const admin = createAdmin(rt, args.allowActions ? { authorize: () => true, actor: () => "trellis admin" } : {});
    const server = http.createServer(admin.node);
    try {
      const address = await listen(server, args.port, args.host);
      const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
      io.stdout.write(`trellis admin: http://${host}:${address.port}/ (${args.allowActions ? "actions allowed" : "read-only"}; Ctrl-C stops)\n`);
      if (args.allowActions && args.host !== "127.0.0.1" && args.host !== "localhost" && args.host !== "::1") {
        io.stderr.write("trellis admin: warning: --allow-actions on a non-loopback address lets anyone who reaches it act on runs\n");
      }
      if (!io.signal.aborted) await new Promise((resolve) => io.signal.addEventListener("abort", resolve, { once: true }));
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rt.close();
    }
    return ExitCodes.ok;
  },
};
