/**
 * The queues page (`<basePath>/queues`): steps ready, running and waiting per
 * queue, across every process sharing the store: `rt.stats()`, one counting
 * query (`Store.countSteps`) read at most once per `statsInterval`. The page
 * says when the counts were read.
 */
import { when } from "../format.js";
import { html } from "../html.js";
import type { Page, PageContext } from "../page.js";

const COUNTED = ["ready", "running", "waiting"] as const;

/** The queues page. */
export async function queuesPage(ctx: PageContext): Promise<Page> {
  const { queues, at } = await ctx.rt.stats();
  const rows = Object.keys(queues)
    .sort((a, b) => a.localeCompare(b))
    .map((queue) => {
      const counts = queues[queue] as Record<(typeof COUNTED)[number], number>;
      return html`<tr data-queue="${queue}"><td>${queue}</td>${COUNTED.map((s) => html`<td data-status="${s}">${counts[s]}</td>`)}</tr>`;
    });
  return {
    title: "Queues",
    live: ctx.paths.live(),
    body: html`<p class="note">Every process sharing the store, counted at ${when(at)} (at most the runtime's <code>statsInterval</code> ago).</p>
<table class="queues"><thead><tr><th>Queue</th>${COUNTED.map((s) => html`<th>${s}</th>`)}</tr></thead>
<tbody>${rows.length ? rows : html`<tr><td colspan="4" class="none">No ready, running or waiting steps.</td></tr>`}</tbody></table>`,
  };
}
