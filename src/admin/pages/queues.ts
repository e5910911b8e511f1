/**
 * The queues page (`<basePath>/queues`): ready, running, waiting and pending
 * steps per queue. No store read counts steps by queue and status yet, so the
 * counts come from the steps of the most recently started unfinished runs (at
 * most `MAX_SAMPLED_RUNS`); the page says when it saw only part of them.
 */
import type { StepStatus } from "../../types.js";
import { html } from "../html.js";
import type { Page, PageContext } from "../page.js";

export const MAX_SAMPLED_RUNS = 200;
const COUNTED: readonly StepStatus[] = ["ready", "running", "waiting", "pending"];

/** Steps per queue and status, from the unfinished runs read; `complete` is false when runs were left out. */
export async function queueCounts(ctx: PageContext): Promise<{ queues: Map<string, Record<string, number>>; runs: number; complete: boolean }> {
  const lists = await Promise.all(
    (["running", "paused", "pending"] as const).map((status) => ctx.rt.listRuns({ status, limit: MAX_SAMPLED_RUNS + 1 })),
  );
  const complete = lists.every((l) => l.length <= MAX_SAMPLED_RUNS);
  const runs = lists.flat().slice(0, MAX_SAMPLED_RUNS);
  const queues = new Map<string, Record<string, number>>();
  for (const steps of await Promise.all(runs.map((r) => ctx.rt.steps(r.id)))) {
    for (const step of steps) {
      if (!COUNTED.includes(step.status)) continue;
      const counts = queues.get(step.queue) ?? Object.fromEntries(COUNTED.map((s) => [s, 0]));
      counts[step.status] = (counts[step.status] ?? 0) + 1;
      queues.set(step.queue, counts);
    }
  }
  return { queues, runs: runs.length, complete };
}

/** The queues page. */
export async function queuesPage(ctx: PageContext): Promise<Page> {
  const { queues, runs, complete } = await queueCounts(ctx);
  const rows = [...queues.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([queue, counts]) => html`<tr data-queue="${queue}"><td>${queue}</td>${COUNTED.map((s) => html`<td data-status="${s}">${counts[s] ?? 0}</td>`)}</tr>`);
  return {
    title: "Queues",
    live: ctx.paths.live(),
    body: html`<p class="note">Counted from the steps of ${runs} unfinished run(s)${complete ? "" : html`, the most recent ${MAX_SAMPLED_RUNS}; older unfinished runs are not counted`}.</p>
<table class="queues"><thead><tr><th>Queue</th>${COUNTED.map((s) => html`<th>${s}</th>`)}</tr></thead>
<tbody>${rows.length ? rows : html`<tr><td colspan="5" class="none">No unfinished steps.</td></tr>`}</tbody></table>`,
  };
}
