import * as vitest from "vitest";
import { describeStoreConformance } from "../src/conformance/index.js";
import { usePostgresSchemas } from "./support/postgres.js";

// A real PostgreSQL server; a fresh schema per test.
const schemas = usePostgresSchemas("conf");

describeStoreConformance({
  name: "postgres",
  makeStore: () => schemas.store(),
  startLeases: true,
}, vitest);
