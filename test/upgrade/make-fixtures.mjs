#!/usr/bin/env node
// Writes this release's upgrade fixtures: a SQLite file and a Postgres dump, each
// holding the runs of workload.mjs in every state, made by the built package
// (`npm run build` first). `upgrade.test.ts` opens every fixture in
// test/upgrade/fixtures with the source under test and finishes its runs.
//
//   node test/upgrade/make-fixtures.mjs
//
// Run it on the release BEFORE a change to the storage shape and commit what it
// writes (named by each backend's schema version): the fixtures of older
// versions stay, so that every version's stores keep opening. Postgres: pg_dump
// on PATH, and TRELLIS_TEST_PG_URL (default postgres://postgres@127.0.0.1:5432/postgres).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import * as lib from '../../dist/index.js';
import { FIXTURE_SCHEMA, LAY_OUT_CONFIG, layOut } from './workload.mjs';

// Older releases exported postgresStore from the main entry point.
const { postgresStore } = lib.postgresStore ? lib : await import('../../dist/postgres.js');
const here = import.meta.dirname;
const out = path.join(here, 'fixtures');
const pgUrl = process.env.TRELLIS_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
fs.mkdirSync(out, { recursive: true });
/**
 * A runtime for laying out; releases with a `logger` option get a quiet one (the
 * `up/later` steps wait for an executor on purpose), older ones refuse the option.
 */
async function open(store) {
  const config = { ...LAY_OUT_CONFIG, store, pollInterval: 50 };
  try {
    return await lib.newRuntime({ ...config, logger: { debug() {}, info() {}, warn() {}, error: console.error } });
  } catch (err) {
    if (!String(err?.message).includes('logger')) throw err;
    return lib.newRuntime(config);
  }
}

/** After the copy: the worker stops, its hanging step given back at once (the copy has it leased). */
async function closeAbruptly(rt, laidOut) {
  laidOut.stop();
  await rt.close({ shutdownGrace: 0 });
}

// SQLite: laid out in a scratch file, copied with VACUUM INTO (a consistent
// snapshot of what is committed, while the worker still holds its lease).
{
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trellis-upgrade-'));
  const file = path.join(dir, 'store.db');
  const rt = await open(lib.sqliteStore(file));
  const laidOut = await layOut(rt, lib);
  const db = new Database(file, { readonly: true });
  const version = db.prepare('SELECT max(version) AS v FROM schema_migrations').get().v;
  const target = path.join(out, `sqlite-v${version}.db`);
  fs.rmSync(target, { force: true });
  db.exec(`VACUUM INTO '${target.replaceAll("'", "''")}'`);
  db.close();
  console.log(`wrote ${path.relative(process.cwd(), target)} (${fs.statSync(target).size} bytes)`);
  await closeAbruptly(rt, laidOut);
  fs.rmSync(dir, { recursive: true, force: true });
}

// Postgres: laid out in a fresh schema, dumped as plain SQL (INSERTs, no owners), dropped.
{
  const admin = new pg.Client({ connectionString: pgUrl });
  await admin.connect();
  await admin.query(`DROP SCHEMA IF EXISTS ${FIXTURE_SCHEMA} CASCADE`);
  const rt = await open(postgresStore({ connectionString: pgUrl, schema: FIXTURE_SCHEMA }));
  const laidOut = await layOut(rt, lib);
  const { rows } = await admin.query(`SELECT max(version) AS v FROM ${FIXTURE_SCHEMA}.schema_migrations`);
  const target = path.join(out, `postgres-v${rows[0].v}.sql`);
  const dump = execFileSync('pg_dump', ['--dbname', pgUrl, '--schema', FIXTURE_SCHEMA, '--inserts', '--no-owner', '--no-privileges', '--no-comments'], {
    encoding: 'utf8',
  });
  // The version lines would change with every regeneration on another machine, and
  // newer pg_dump brackets the dump in psql commands (\restrict) that a driver cannot run.
  fs.writeFileSync(target, dump.replace(/^-- Dumped (from|by) .*\n/gm, '').replace(/^\\(un)?restrict .*\n/gm, ''));
  console.log(`wrote ${path.relative(process.cwd(), target)} (${dump.length} characters)`);
  await closeAbruptly(rt, laidOut);
  await admin.query(`DROP SCHEMA ${FIXTURE_SCHEMA} CASCADE`);
  await admin.end();
}
