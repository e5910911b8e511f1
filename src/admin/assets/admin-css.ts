/** The admin page's stylesheet, served from `<basePath>/assets/admin.css` (no inline style: the CSP forbids it). */
export const ADMIN_CSS = `
:root { --fg: #1d2330; --muted: #667085; --line: #e4e7ec; --bg: #f8f9fb; --accent: #2f5bd3; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); }
header { display: flex; gap: 1.5rem; align-items: center; padding: .6rem 1.2rem; background: #1d2330; color: #fff; }
header a { color: #fff; text-decoration: none; }
header nav { display: flex; gap: 1rem; }
header .brand { font-weight: 700; }
header .mode, header .live-state { margin-left: auto; color: #c9d1e3; font-size: 12px; }
header .live-state { margin-left: 0; }
main { padding: 1rem 1.2rem 3rem; max-width: 1400px; }
h1 { font-size: 20px; margin: .3rem 0 1rem; }
h2 { font-size: 16px; margin: 1.6rem 0 .5rem; }
h3 { font-size: 14px; margin: 1rem 0 .3rem; }
a { color: var(--accent); }
table { border-collapse: collapse; width: 100%; background: #fff; border: 1px solid var(--line); }
th, td { text-align: left; padding: .35rem .55rem; border-bottom: 1px solid var(--line); vertical-align: top; }
th { background: #f1f3f7; font-weight: 600; font-size: 12px; color: var(--muted); }
pre.value { background: #fff; border: 1px solid var(--line); padding: .6rem; overflow: auto; max-height: 24rem; white-space: pre-wrap; word-break: break-word; }
code { font: 12px ui-monospace, SFMono-Regular, Menlo, monospace; }
.none, .note { color: var(--muted); }
.warn { color: #b42318; font-weight: 600; }
.notice { background: #ecfdf3; border: 1px solid #abefc6; padding: .5rem .8rem; }
.error { background: #fef3f2; border: 1px solid #fecdca; padding: .5rem .8rem; color: #b42318; }
.status { display: inline-block; padding: 0 .45rem; border-radius: 999px; font-size: 12px; font-weight: 600; background: #eaecf0; }
.status-succeeded { background: #dcfae6; color: #067647; }
.status-failed { background: #fee4e2; color: #b42318; }
.status-running { background: #d1e9ff; color: #175cd3; }
.status-ready, .status-pending { background: #f2f4f7; color: #344054; }
.status-waiting, .status-paused { background: #fef0c7; color: #b54708; }
.status-canceled, .status-skipped { background: #eaecf0; color: #475467; }
.counts { display: flex; gap: .8rem; list-style: none; padding: 0; margin: 0 0 1rem; flex-wrap: wrap; }
.counts a { text-decoration: none; color: var(--fg); }
.count { font-weight: 700; }
.filters { display: flex; flex-wrap: wrap; gap: .6rem; align-items: end; margin-bottom: 1rem; }
.filters label, .action label { display: flex; flex-direction: column; font-size: 12px; color: var(--muted); }
input, select, textarea, button { font: inherit; padding: .25rem .4rem; }
button { background: var(--accent); color: #fff; border: 0; border-radius: 4px; padding: .3rem .8rem; cursor: pointer; }
.action-cancel-run button, .action-purge button { background: #b42318; }
.actions { display: flex; flex-wrap: wrap; gap: .8rem; align-items: end; margin: 1rem 0; }
.action { display: flex; gap: .5rem; align-items: end; margin: 0; }
.facts { display: grid; grid-template-columns: 9rem 1fr; gap: .25rem .8rem; margin: 0; }
.facts dt { color: var(--muted); }
.facts dd { margin: 0; }
.chips { display: flex; gap: .3rem; list-style: none; padding: 0; margin: 0; flex-wrap: wrap; }
.chips li { background: #f2f4f7; border-radius: 4px; padding: 0 .3rem; }
.paging { display: flex; gap: 1rem; margin: .8rem 0; }
.graph-text ul { margin: .2rem 0 .4rem; }
.dep-on { color: var(--muted); font-size: 12px; }
`;
