/**
 * The failed-steps view (`<basePath>/failed`): the dead letters across runs,
 * filtered by package, kind, queue and error code, with bulk replay (Retry
 * selected) of the steps ticked.
 */
import type { FailedStepsFilter, StepInfo } from "../../types.js";
import { statusBadge, when } from "../format.js";
import { html, type SafeHtml } from "../html.js";
import { actionForm, REASON, type Page, type PageContext } from "../page.js";
import { pageSize } from "./runs-list.js";

/** How a ticked step travels in the bulk form: JSON `[runId, stepId]` (ids may hold any character). */
export const encodeStepRef = (runId: string, stepId: string): string => JSON.stringify([runId, stepId]);

const FILTERS = ["package", "kind", "queue", "code"] as const;

function filterForm(ctx: PageContext, query: URLSearchParams): SafeHtml {
  const fields = FILTERS.map((name) => html`<label>${name[0]?.toUpperCase()}${name.slice(1)} <input name="${name}" value="${query.get(name) ?? ""}"></label>`);
  return html`<form method="get" action="${ctx.paths.failed()}" class="filters">${fields}<button type="submit">Filter</button></form>`;
}

function row(ctx: PageContext, step: StepInfo, selectable: boolean): SafeHtml {
  return html`<tr data-step-id="${step.id}" data-run-id="${step.runId}">
${selectable ? html`<td><input type="checkbox" name="step" value="${encodeStepRef(step.runId, step.id)}" aria-label="select ${step.id}"></td>` : ""}
<td><a href="${ctx.paths.run(step.runId)}">${step.runId}</a></td><td><a href="${ctx.paths.step(step.runId, step.id)}">${step.id}</a></td>
<td>${step.kind}</td><td>${step.queue}</td><td>${statusBadge(step.status)}</td><td>${step.attempt}/${step.maxAttempts}</td>
<td>${step.lastError ? html`<code>${step.lastError.code}</code> ${step.lastError.message}` : ""}</td><td>${when(step.finishedAt)}</td></tr>`;
}

/** The failed-steps page. */
export async function failedStepsPage(ctx: PageContext): Promise<Page> {
  const query = ctx.url.searchParams;
  const limit = pageSize(query);
  const filter: FailedStepsFilter = { limit: limit + 1 };
  for (const name of FILTERS) {
    const value = query.get(name)?.trim();
    if (value) filter[name] = value;
  }
  const afterRun = query.get("afterRun");
  const afterStep = query.get("afterStep");
  if (afterRun && afterStep) filter.after = { runId: afterRun, stepId: afterStep };
  const found = await ctx.rt.listFailedSteps(filter);
  const steps = found.slice(0, limit);
  const last = steps.at(-1);
  const next = new URLSearchParams(query);
  next.delete("notice");
  if (found.length > limit && last) {
    next.set("afterRun", last.runId);
    next.set("afterStep", last.id);
  }
  const table = html`<table class="failed"><thead><tr>${ctx.canAct ? html`<th></th>` : ""}<th>Run</th><th>Step</th><th>Kind</th><th>Queue</th><th>Status</th><th>Attempt</th><th>Error</th><th>Failed</th></tr></thead>
<tbody>${steps.length ? steps.map((s) => row(ctx, s, ctx.canAct)) : html`<tr><td colspan="9" class="none">No failed steps.</td></tr>`}</tbody></table>`;
  return {
    title: "Failed steps",
    live: ctx.paths.live(),
    body: html`${filterForm(ctx, query)}
${ctx.canAct && steps.length ? actionForm(ctx, "retry-selected", {}, html`${table}${REASON}`) : table}
<nav class="paging">${found.length > limit ? html`<a rel="next" href="${ctx.paths.failed(next)}">Next</a>` : ""}</nav>`,
  };
}
