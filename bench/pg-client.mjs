// The benches' own connections to the Postgres server, apart from the stores'
// pools: to drop what a run left behind, reset statistics or read them.
import pg from "pg";

/** Runs `fn(client)` on a connection of its own to the server at `url`, closed afterwards. */
export async function withPg(url, fn) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Drops a schema a bench made (nothing when it is already gone). */
export function dropSchema(url, schema) {
  return withPg(url, (c) => c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`));
}
