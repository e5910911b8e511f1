#!/usr/bin/env node
// `npm run bench`: trellis (SQLite) against the SQLite peers of the shared
// peer benchmark (shared/bench), in one invocation so the figures compare.
// Extra CLI args go to the harness as is (e.g. `npm run bench -- --n 2000 --repeat 3`;
// a repeated flag such as --workloads overrides the default below: last one wins).
// Writes bench/results/<UTC timestamp>.{jsonl,md} and latest.md, then prints
// trellis / peer ratios. See bench/README.md.
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
const self = path.join(here, 'contenders', 'trellis-sqlite.mjs');
const SELF_NAME = 'trellis-sqlite';

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

const args = [
  harness,
  '--contenders', 'plainjob,liteque',
  '--self', self,
  '--workloads', 'queue,dag3,fanout,latency',
  ...process.argv.slice(2),
];
const shown = `node ${args.map((a) => (a === self ? path.relative(root, self) : a)).join(' ')}`;
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

function ratios(rows) {
  const pick = cells(rows);
  const get = (c, w, m) => pick.get(`${c}\u0000${w}\u0000${m}`);
  const peers = [...new Set(rows.filter((r) => r.backend === 'sqlite' && r.contender !== SELF_NAME).map((r) => r.contender))];
  const metrics = [...new Set(rows.filter((r) => r.contender === SELF_NAME).map((r) => `${r.workload}\u0000${r.metric}`))];
  if (!peers.length || !metrics.length) return '(no ratios: need trellis-sqlite and at least one SQLite peer)';
  // 3-4 significant digits (99.98 prints as 100, not 100.0).
  const fmt = (x) => (x === null || x === undefined ? 'n/a' : x >= 99.95 ? x.toFixed(0) : x >= 9.995 ? x.toFixed(1) : x.toFixed(2));
  const ratio = (a, b) => (a && b ? `${fmt(a / b)}x` : 'n/a');

  const head = `| workload | figure | better | ${SELF_NAME} | ${peers.map((p) => `${p} | ratio vs ${p}`).join(' | ')} |`;
  const sep = '|' + ' --- |'.repeat(4 + 2 * peers.length);
  const out = [head, sep];
  for (const wm of metrics) {
    const [workload, metric] = wm.split('\u0000');
    const mine = get(SELF_NAME, workload, metric);
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
    `## ${SELF_NAME} / peer ratios`,
    '',
    'ratio = trellis-sqlite figure / peer figure. Throughput rows: higher is better, so a ratio > 1 means trellis is faster.',
    'Latency rows (ms): lower is better, so a ratio < 1 means trellis is faster. Missing cells (n/a) are non-ok runs.',
    '',
    ...out,
  ].join('\n');
}
