/**
 * The migration lists themselves: versions 1..n in order with names that carry
 * them, on both backends. Migrations are appended by parallel branches; two
 * entries with one version would apply only the first in a fresh database and
 * neither in one that had seen the number.
 */
import { describe, expect, it } from "vitest";
import { MIGRATIONS as POSTGRES } from "../../src/store/postgres/migrations.js";
import { MIGRATIONS as SQLITE } from "../../src/store/sqlite/migrations.js";

describe.each([
  ["sqlite", SQLITE],
  ["postgres", POSTGRES],
] as const)("the %s migrations", (_name, migrations) => {
  it("are numbered 1..n in order, each name starting with its zero-padded version", () => {
    expect(migrations.map((m) => m.version)).toEqual(migrations.map((_, i) => i + 1));
    for (const m of migrations) expect(m.name.startsWith(`${String(m.version).padStart(3, "0")}_`)).toBe(true);
    expect(new Set(migrations.map((m) => m.name.slice(4))).size).toBe(migrations.length);
  });
});
