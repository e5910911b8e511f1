/**
 * The runs list (`<basePath>/`): filters, paging, counts by status, and Purge.
 * Every filter (status, package, created-at range, metadata, id prefix) is
 * the store's (`rt.listRuns`): a page is one query, however far back its runs are.
 */
import { ErrorCodes, WorkflowError } from "../../errors.js";
import type { ListRunsFilter, RunStatus, WorkflowRun } from "../../types.js";
import { metadataList, statusBadge, when } from "../format.js";
import { html, type SafeHtml } from "../html.js";
import { actionForm, REASON, type Page, type PageContext } from "../page.js";

export const RUN_STATUSES: readonly RunStatus[] = ["pending", "running", "paused", "succeeded", "failed", "canceled"];
/** Rows a page shows by default, and at most (`?limit=`). */
export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 200;
/** Counts by status stop here ("500+"): counting means reading, and a page must stay cheap. */
export const COUNT_CAP = 500;

type RunFilters = ListRunsFilter & { limit: number };

/** Reads the filters from the query string; a bad one is `invalid_argument`. */
export function parseRunFilters(query: URLSearchParams): RunFilters {
  const text = (name: string) => {
    const value = query.get(name)?.trim();
    return value ? value : undefined;
  };
  const filters: RunFilters = { limit: pageSize(query) };
  const status = text("status");
  if (status !== undefined) {
    if (!(RUN_STATUSES as readonly string[]).includes(status)) throw new WorkflowError(ErrorCodes.invalidArgument, `unknown status "${status}"`);
    filters.status = status as RunStatus;
  }
  const pkg = text("package");
  if (pkg !== undefined) filters.package = pkg;
  const from = text("from");
  if (from !== undefined) filters.createdFrom = parseInstant(from, "from");
  const to = text("to");
  if (to !== undefined) filters.createdTo = parseInstant(to, "to");
  const meta = text("meta");
  if (meta !== undefined) {
    const eq = meta.indexOf("=");
    if (eq <= 0) throw new WorkflowError(ErrorCodes.invalidArgument, `metadata filter "${meta}": write it as key=value`);
    filters.metadata = { [meta.slice(0, eq)]: meta.slice(eq + 1) };
  }
  const prefix = text("prefix");
  if (prefix !== undefined) filters.idPrefix = prefix;
  const after = text("after");
  if (after !== undefined) filters.after = after;
  return filters;
}

/** `?limit=`, bounded by {@link MAX_PAGE_SIZE}. */
export function pageSize(query: URLSearchParams): number {
  const raw = query.get("limit");
  if (raw === null || raw === "") return DEFAULT_PAGE_SIZE;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new WorkflowError(ErrorCodes.invalidArgument, `limit must be a positive integer, not "${raw}"`);
  return Math.min(n, MAX_PAGE_SIZE);
}

/** A date (`2026-12-07`, read as UTC midnight) or a date and time (read as UTC). */
export function parseInstant(text: string, what: string): Date {
  const withZone = /[zZ]|[+-]\d\d:\d\d$/.test(text) ? text : /T/.test(text) ? `${text}Z` : `${text}T00:00:00Z`;
  const date = new Date(withZone);
  if (Number.isNaN(date.getTime())) throw new WorkflowError(ErrorCodes.invalidArgument, `${what}: "${text}" is not a date`);
  return date;
}

interface FoundRuns {
  runs: WorkflowRun[];
  /** The `after` of the next page, if there is one. */
  next?: string;
}

/** One page of runs that pass every filter (one more row read tells whether a next page exists). */
export async function findRuns(ctx: PageContext, f: RunFilters): Promise<FoundRuns> {
  const found = await ctx.rt.listRuns({ ...f, limit: f.limit + 1 });
  if (found.length <= f.limit) return { runs: found };
  const runs = found.slice(0, f.limit);
  return { runs, next: (runs.at(-1) as WorkflowRun).id };
}

/** How many runs have each status (with the package filter), up to {@link COUNT_CAP}. */
async function countByStatus(ctx: PageContext, pkg: string | undefined): Promise<[RunStatus, string][]> {
  return Promise.all(
    RUN_STATUSES.map(async (status): Promise<[RunStatus, string]> => {
      const runs = await ctx.rt.listRuns({ status, limit: COUNT_CAP + 1, ...(pkg ? { package: pkg } : {}) });
      return [status, runs.length > COUNT_CAP ? `${COUNT_CAP}+` : String(runs.length)];
    }),
  );
}

function filterForm(ctx: PageContext, query: URLSearchParams): SafeHtml {
  const v = (name: string) => query.get(name) ?? "";
  const options = RUN_STATUSES.map((s) => (v("status") === s ? html`<option value="${s}" selected>${s}</option>` : html`<option value="${s}">${s}</option>`));
  return html`<form method="get" action="${ctx.paths.runs()}" class="filters" id="filters">
<label>Status <select name="status"><option value="">any</option>${options}</select></label>
<label>Package <input name="package" value="${v("package")}"></label>
<label>Created from <input name="from" placeholder="2026-12-01" value="${v("from")}"></label>
<label>to <input name="to" placeholder="2026-12-07T12:00" value="${v("to")}"></label>
<label>Metadata <input name="meta" placeholder="key=value" value="${v("meta")}"></label>
<label>Id prefix <input name="prefix" value="${v("prefix")}"></label>
<button type="submit">Filter</button>
</form>`;
}

function runRow(ctx: PageContext, run: WorkflowRun): SafeHtml {
  const failed = run.failedSteps ?? 0;
  return html`<tr data-run-id="${run.id}">
<td><a href="${ctx.paths.run(run.id)}">${run.id}</a></td><td>${run.name}</td><td>${run.package}</td><td>${statusBadge(run.status)}</td>
<td class="failed-steps">${failed ? html`<span class="warn">${failed}</span>` : ""}</td>
<td>${when(run.createdAt)}</td><td>${when(run.updatedAt)}</td><td>${metadataList(run.metadata)}</td></tr>`;
}

/** The runs list page. */
export async function runsListPage(ctx: PageContext): Promise<Page> {
  const query = ctx.url.searchParams;
  const filters = parseRunFilters(query);
  const [{ runs, next }, counts] = await Promise.all([findRuns(ctx, filters), countByStatus(ctx, filters.package)]);
  const nextQuery = new URLSearchParams(query);
  nextQuery.delete("notice");
  nextQuery.delete("count");
  if (next) nextQuery.set("after", next);
  const countLinks = counts.map(([status, n]) => {
    const q = new URLSearchParams(filters.package ? { package: filters.package, status } : { status });
    return html`<li><a href="${ctx.paths.runs(q)}">${statusBadge(status)} <span class="count" data-status="${status}">${n}</span></a></li>`;
  });
  const purge = actionForm(ctx, "purge", {}, html`<label>Finished before <input type="date" name="before" required></label>${REASON}`);
  return {
    title: "Runs",
    live: ctx.paths.live(),
    body: html`<ul class="counts">${countLinks}</ul>
${filterForm(ctx, query)}
<table class="runs"><thead><tr><th>Id</th><th>Name</th><th>Package</th><th>Status</th><th>Failed steps</th><th>Created</th><th>Updated</th><th>Metadata</th></tr></thead>
<tbody>${runs.length ? runs.map((run) => runRow(ctx, run)) : html`<tr><td colspan="8" class="none">No runs match.</td></tr>`}</tbody></table>
<nav class="paging">${filters.after ? html`<a href="${ctx.paths.runs(withoutCursor(query))}">First page</a>` : ""}${next ? html`<a rel="next" href="${ctx.paths.runs(nextQuery)}">Next</a>` : ""}</nav>
${ctx.canAct ? html`<section class="purge"><h2>Purge</h2><p>Deletes finished runs (succeeded, failed, canceled) that finished before the date, with everything they hold.</p>${purge}</section>` : ""}`,
  };
}

function withoutCursor(query: URLSearchParams): URLSearchParams {
  const q = new URLSearchParams(query);
  for (const name of ["after", "notice", "count"]) q.delete(name);
  return q;
}
