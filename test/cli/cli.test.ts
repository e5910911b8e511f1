import { describe, expect, it } from "vitest";
import { storeFromUrl } from "../../src/cli/store-url.js";
import { isWorkflowError } from "../../src/errors.js";
import { binCli } from "../support/cli.js";

const trellis = binCli();

describe("the trellis bin", () => {
  it("prints its version from package.json", async () => {
    const { code, stdout } = await trellis("--version");
    expect(code).toBe(0);
    expect(stdout).toMatch(/^trellis \d+\.\d+\.\d+/);
  });

  it("lists its commands on --help and exits 0", async () => {
    const { code, stdout } = await trellis("--help");
    expect(code).toBe(0);
    expect(stdout).toContain("usage: trellis <command>");
    expect(stdout).toContain("version");
  });

  it("exits 2 with the usage on stderr without a command or with an unknown one", async () => {
    const none = await trellis();
    expect(none.code).toBe(2);
    expect(none.stderr).toContain("usage:");
    const unknown = await trellis("frobnicate");
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown command "frobnicate"');
  });
});

describe("--store URLs", () => {
  it("refuses a scheme it does not know with invalid_argument", async () => {
    const error = await storeFromUrl("mysql://localhost/db", "/tmp").catch((e: unknown) => e);
    expect(isWorkflowError(error) && error.code).toBe("invalid_argument");
    const empty = await storeFromUrl("sqlite:", "/tmp").catch((e: unknown) => e);
    expect(isWorkflowError(empty) && empty.code).toBe("invalid_argument");
  });

  it("maps sqlite: and postgres:// to the two stores", async () => {
    expect((await storeFromUrl("sqlite:./var/x.db", "/tmp")).name).toBe("sqlite");
    expect((await storeFromUrl("postgres://postgres@127.0.0.1:5432/postgres?schema=cli_test", "/tmp")).name).toBe("postgres");
  });
});
