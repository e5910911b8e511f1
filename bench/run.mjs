#!/usr/bin/env node
// `npm run bench`: trellis against the peers of the shared peer benchmark
// (shared/bench), per backend: trellis-sqlite with the SQLite peers and
// trellis-postgres with the Postgres peers, all in one harness invocation (one
// table, same server) so the figures compare.
// Our flags: --backend sqlite|postgres|both (default both) and --contenders LIST
// (which peers; 'none' = only trellis). Every other argument goes to the harness
// as is (e.g. `npm run bench -- --n 2000 --repeat 3`; a repeated flag such as
// --workloads overrides the default below: last one wins).
// Writes bench/results/<UTC timestamp>.{jsonl,md} and latest.md, then prints
// trellis / peer ratios per backend. See bench/README.md.
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import fs from 'node:fs';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');
// The harness lives next to the repo (shared/bench); TRELLIS_BENCH_HARNESS may
// point at another copy: its run.mjs or the folder holding it.
const override = process.env.TRELLIS_BENCH_HARNESS;
const harness = override
  ? override.endsWith('.mjs') ? path.resolve(override) : path.resolve(override, 'run.mjs')
  : path.resolve(root, '..', 'shared', 'bench', 'run.mjs');
const harnessDir = path.dirname(harness);

// Per backend: our contender and the harness's peers on that backend.
const BACKENDS = {
  sqlite: { self: 'trellis-sqlite', peers: ['plainjob', 'liteque'] },
  postgres: { self: 'trellis-postgres', peers: ['graphile-worker', 'pg-boss', 'dbos', 'absurd'] },
};
const SELF_NAMES = new Set(Object.values(BACKENDS).map((b) => b.self));

// Take our own flags out of the arguments; the rest goes to the harness.
const { backends, peerFilter, passThrough, help } = parseOwnArgs(process.argv.slice(2));
if (help) {
  console.log(`npm run bench -- [options]   (node bench/run.mjs [options])
  --backend B          sqlite | postgres | both (default both): trellis-<B> and the peers of that backend
  --contenders LIST    which peers (comma list of ${Object.values(BACKENDS).flatMap((b) => b.peers).join(', ')});
                       'none' = only trellis. trellis-sqlite / trellis-postgres follow --backend
  any other option goes to the harness (defaults here: --workloads queue,dag3,fanout,latency):
`);
  spawnSync(process.execPath, [harness, '--help'], { stdio: 'inherit' });
  process.exit(0);
}

if (!fs.existsSync(harness)) {
  console.error(`bench: no harness at ${harness} (set TRELLIS_BENCH_HARNESS)`);
  process.exit(1);
}
if (!fs.existsSync(path.join(root, 'dist', 'index.js'))) {
  console.error('bench: dist/ is missing; run `npm run build` (npm run bench does it)');
  process.exit(1);
}

// The harness has its own pinned dependencies (the peers, better-sqlite3 11.9.1, pg).
if (!fs.existsSync(path.join(harnessDir, 'node_modules'))) {
  console.error(`bench: installing the harness's dependencies (npm ci in ${harnessDir}; better-sqlite3 compiles, ~1.5 min) ...`);
  const r = spawnSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: harnessDir, stdio: ['ignore', 2, 2] });
  if (r.status !== 0) {
    console.error('bench: npm ci failed');
    process.exit(r.status ?? 1);
  }
}

// Every contender goes in as --self, in this order (the harness runs and lists
// them in it): per backend the peers, then trellis. A --self of the harness's own
// contenders/<peer>.mjs is the same run as --contenders <peer>.
const modules = [];
for (const b of backends) {
  for (const peer of BACKENDS[b].peers.filter((p) => !peerFilter || peerFilter.has(p))) {
    modules.push(path.join(harnessDir, 'contenders', `${peer}.mjs`));
  }
  modules.push(path.join(here, 'contenders', `${BACKENDS[b].self}.mjs`));
}
if (modules.some((m) => path.basename(m) === 'absurd.mjs') && !absurdSchema()) {
  console.error(
    `bench: absurd's SQL schema not found (--opt absurdSql=PATH, $ABSURD_SQL or ${path.join(harnessDir, '.cache', 'absurd.sql')}); ` +
      'its rows will be reported as skipped (see bench/README.md)',
  );
}

const args = [
  harness,
  '--contenders', 'none',
  ...modules.flatMap((m) => ['--self', m]),
  '--workloads', 'queue,dag3,fanout,latency',
  ...passThrough,
];
const shown = `node ${args.map((a) => (modules.includes(a) ? path.relative(root, a) : a)).join(' ')}`;
console.error(`bench: ${shown}`);

// Progress comes on stderr (streamed); stdout holds the JSON lines, then the table.
const child = spawn(process.execPath, args, { cwd: harnessDir, stdio: ['ignore', 'pipe', 'inherit'] });
let out = '';
child.stdout.setEncoding('utf8').on('data', (s) => (out += s));
const code = await new Promise((resolve) => child.on('close', (c) => resolve(c ?? 1)));

const lines = out.split('\n');
const rows = lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
const report = lines.filter((l) => !l.startsWith('{')).join('\n').trim();
const summary = ratios(rows);

// Which code was measured: the build comes from the working tree, so say if it was dirty.
const rev = spawnSync('git', ['describe', '--always', '--dirty'], { cwd: root, encoding: 'utf8' }).stdout?.trim() || 'unknown';

const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+/, ''); // 20261122T041200Z
const dir = path.join(here, 'results');
fs.mkdirSync(dir, { recursive: true });
fs.writeFileSync(path.join(dir, `${stamp}.jsonl`), rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
const md = `# bench ${stamp} (trellis ${rev})\n\n\`${shown}\`\n\n${report}\n\n${summary}\n`;
fs.writeFileSync(path.join(dir, `${stamp}.md`), md);
fs.writeFileSync(path.join(dir, 'latest.md'), md);

console.log(report + '\n\n' + summary);
console.log(`\nwritten: bench/results/${stamp}.jsonl, bench/results/${stamp}.md (and latest.md)`);
process.exit(code);

// ---------------------------------------------------------------------------

// One row per contender/workload/metric, picked like the harness's table does
// with --repeat: the run with the median time (latency: median p50), so the
// ratios are computed from the very figures the table shows.
function cells(rows) {
  const groups = new Map();
  for (const r of rows.filter((r) => r.status === 'ok')) {
    const k = `${r.contender}\u0000${r.workload}\u0000${r.metric}`;
    if (!groups.has(k)) groups.set(k, []);
    groups.get(k).push(r);
  }
  const pick = new Map();
  for (const [k, g] of groups) {
    const key = (r) => (r.workload === 'latency' ? r.p50ms : r.seconds);
    const sorted = [...g].sort((a, b) => key(a) - key(b));
    pick.set(k, sorted[Math.floor((sorted.length - 1) / 2)]);
  }
  return pick;
}

// One ratio table per trellis contender that has rows: its figures divided by
// those of the peers on its backend.
function ratios(rows) {
  const pick = cells(rows);
  const tables = Object.entries(BACKENDS)
    .filter(([, { self }]) => rows.some((r) => r.contender === self))
    .map(([backend, { self }]) => ratioTable(rows, pick, backend, self));
  return tables.length ? tables.join('\n\n') : '(no ratios: no trellis rows)';
}

function ratioTable(rows, pick, backend, self) {
  const get = (c, w, m) => pick.get(`${c}\u0000${w}\u0000${m}`);
  const all = [...new Set(rows.filter((r) => r.backend === backend && !SELF_NAMES.has(r.contender)).map((r) => r.contender))];
  // A peer without a single ok row (e.g. absurd without its schema) gets no columns, only a note.
  const peers = all.filter((p) => rows.some((r) => r.contender === p && r.status === 'ok'));
  const absent = all
    .filter((p) => !peers.includes(p))
    .map((p) => {
      const r = rows.find((x) => x.contender === p);
      return `- ${p}: no ok run (${r.status}${r.error ? `: ${r.error}` : ''})`;
    });
  const metrics = [...new Set(rows.filter((r) => r.contender === self).map((r) => `${r.workload}\u0000${r.metric}`))];
  if (!peers.length || !metrics.length) {
    return [`## ${self} / peer ratios`, '', `(no ratios: need ${self} and at least one ${backend} peer with an ok run)`, ...(absent.length ? ['', ...absent] : [])].join('\n');
  }
  // 3-4 significant digits (99.98 prints as 100, not 100.0).
  const fmt = (x) => (x === null || x === undefined ? 'n/a' : x >= 99.95 ? x.toFixed(0) : x >= 9.995 ? x.toFixed(1) : x.toFixed(2));
  const ratio = (a, b) => (a && b ? `${fmt(a / b)}x` : 'n/a');

  const head = `| workload | figure | better | ${self} | ${peers.map((p) => `${p} | ratio vs ${p}`).join(' | ')} |`;
  const sep = '|' + ' --- |'.repeat(4 + 2 * peers.length);
  const out = [head, sep];
  for (const wm of metrics) {
    const [workload, metric] = wm.split('\u0000');
    const mine = get(self, workload, metric);
    // Throughput: perSecond (dag3 also steps/s, same ratio). Latency: p50 and p99 in ms.
    const figures =
      workload === 'latency'
        ? [[`${metric} p50`, 'lower', (r) => r?.p50ms], [`${metric} p99`, 'lower', (r) => r?.p99ms]]
        : [[metric, 'higher', (r) => r?.perSecond]];
    for (const [label, better, f] of figures) {
      const cols = peers.map((p) => {
        const theirs = f(get(p, workload, metric));
        return `${fmt(theirs)} | ${ratio(f(mine), theirs)}`;
      });
      out.push(`| ${workload} | ${label} | ${better} | ${fmt(f(mine))} | ${cols.join(' | ')} |`);
    }
  }
  return [
    `## ${self} / peer ratios`,
    '',
    `ratio = ${self} figure / peer figure (${backend} peers). Throughput rows: higher is better, so a ratio > 1 means trellis is faster.`,
    'Latency rows (ms): lower is better, so a ratio < 1 means trellis is faster. Missing cells (n/a) are non-ok runs (skipped, error, timeout).',
    '',
    ...out,
    ...(absent.length ? ['', ...absent] : []),
  ].join('\n');
}

// --backend and --contenders (as `--flag value` or `--flag=value`) are ours;
// everything else is passed to the harness in its order.
function parseOwnArgs(argv) {
  let backend = 'both';
  let contenders;
  let help = false;
  const passThrough = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const [flag, inline] = a.startsWith('--') && a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    const value = () => {
      const v = inline ?? argv[++i];
      if (v === undefined) fail(`${flag} needs a value`);
      return v;
    };
    if (flag === '--backend') backend = value();
    else if (flag === '--contenders') contenders = value();
    else if (flag === '--help' || flag === '-h') help = true;
    else passThrough.push(a);
  }
  if (backend !== 'both' && !(backend in BACKENDS)) fail(`--backend must be sqlite, postgres or both, not '${backend}'`);
  const backends = backend === 'both' ? Object.keys(BACKENDS) : [backend];
  let peerFilter = null;
  if (contenders !== undefined) {
    const names = contenders === 'none' ? [] : contenders.split(',').map((s) => s.trim()).filter(Boolean);
    const known = backends.flatMap((b) => BACKENDS[b].peers);
    const unknown = names.filter((n) => !known.includes(n));
    if (unknown.length) fail(`--contenders: ${unknown.join(', ')} not a peer of --backend ${backend} (peers: ${known.join(', ')})`);
    peerFilter = new Set(names);
  }
  return { backends, peerFilter, passThrough, help };
}

function fail(message) {
  console.error(`bench: ${message}`);
  process.exit(2);
}

// Where the harness's absurd contender looks for absurd.sql (first that exists).
function absurdSchema() {
  const opt = passThrough.flatMap((a, i) => (a === '--opt' ? [passThrough[i + 1]] : a.startsWith('--opt=') ? [a.slice(6)] : []))
    .filter((kv) => kv?.startsWith('absurdSql='))
    .map((kv) => kv.slice('absurdSql='.length));
  return [opt.at(-1), process.env.ABSURD_SQL, path.join(harnessDir, '.cache', 'absurd.sql')].filter(Boolean).find((p) => fs.existsSync(path.resolve(harnessDir, p)));
}
