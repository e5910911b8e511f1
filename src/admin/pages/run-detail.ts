/**
 * The run detail page (`<basePath>/runs/<runId>`): the run, its actions, its
 * graph, steps, input and output, child and parent runs, and
 * its event timeline. It updates live.
 */
import { ErrorCodes, WorkflowError } from "../../errors.js";
import type { RunEvent, StepInfo, WorkflowRun } from "../../types.js";
import { metadataList, statusBadge, valueBlock, when } from "../format.js";
import { runGraphToModel } from "../../graph/run-graph-model.js";
import { renderSvg } from "../../graph/svg.js";
import { html, SafeHtml } from "../html.js";
import { actionForm, REASON, type Page, type PageContext } from "../page.js";

/** Events the timeline shows: the newest ones. */
export const MAX_TIMELINE_EVENTS = 200;
/** Steps the table shows; a larger run says how many it left out. */
export const MAX_STEP_ROWS = 500;

const UNFINISHED = new Set(["pending", "running", "paused"]);
const RETRYABLE_STEP = new Set(["failed", "canceled"]);

/** The child run a step started, from what it waits for (`run:<id>`). */
export function childRunOf(step: StepInfo): string | undefined {
  return step.waitingFor?.startsWith("run:") ? step.waitingFor.slice("run:".length) : undefined;
}

export function stepsTable(ctx: PageContext, runId: string, steps: StepInfo[]): SafeHtml {
  const shown = steps.slice(0, MAX_STEP_ROWS);
  const rows = shown.map((step) => {
    const child = childRunOf(step);
    const retry = RETRYABLE_STEP.has(step.status) ? actionForm(ctx, "retry", { runId, stepId: step.id }) : "";
    return html`<tr data-step-id="${step.id}" data-status="${step.status}">
<td><a href="${ctx.paths.step(runId, step.id)}">${step.id}</a></td><td>${step.kind}</td><td>${step.queue}</td><td>${statusBadge(step.status)}</td>
<td>${step.attempt}/${step.maxAttempts}</td><td>${step.lastError ? html`<code>${step.lastError.code}</code>` : ""}</td>
<td>${child ? html`<a href="${ctx.paths.run(child)}">${child}</a>` : step.waitingFor ?? ""}</td>
<td>${when(step.startedAt)}</td><td>${when(step.finishedAt)}</td><td>${retry}</td></tr>`;
  });
  return html`<table class="steps"><thead><tr><th>Step</th><th>Kind</th><th>Queue</th><th>Status</th><th>Attempt</th><th>Last error</th><th>Waits for</th><th>Started</th><th>Finished</th><th></th></tr></thead>
<tbody>${rows}</tbody></table>${steps.length > shown.length ? html`<p class="note">${steps.length - shown.length} more steps not shown.</p>` : ""}`;
}

/**
 * The "Graph" section: the run's graph drawn by the SVG renderer (fan-outs
 * folded, coloured by status), and each step with the steps it depends on as
 * text beneath it, for screen readers and for copying ids.
 */
async function graphSection(ctx: PageContext, runId: string, steps: StepInfo[]): Promise<SafeHtml> {
  // The renderer escapes every user-written string and emits no script or style
  // (its own tests pin that), so its output is markup we made.
  const svg = new SafeHtml(await renderSvg(runGraphToModel(await ctx.rt.graph(runId))));
  const items = steps.slice(0, MAX_STEP_ROWS).map((step) => {
    const deps = step.dependsOn.map((d) => html`<li><a href="${ctx.paths.step(runId, d.stepId)}">${d.stepId}</a> <span class="dep-on">(on ${d.on ?? "succeeded"})</span></li>`);
    return html`<li>${statusBadge(step.status)} <a href="${ctx.paths.step(runId, step.id)}">${step.id}</a>${deps.length ? html` depends on <ul>${deps}</ul>` : html` <span class="none">(no dependencies)</span>`}</li>`;
  });
  return html`<section class="graph" id="graph"><h2>Graph</h2><div class="graph-picture">${svg}</div>
<details><summary>Dependencies as text</summary><ul class="graph-text">${items}</ul></details></section>`;
}

export function timeline(events: RunEvent[]): SafeHtml {
  const shown = events.slice(-MAX_TIMELINE_EVENTS).reverse();
  const rows = shown.map(
    (e) => html`<tr data-type="${e.type}"><td>${e.seq}</td><td>${when(e.at)}</td><td>${e.type}</td><td>${e.stepId ?? ""}</td><td>${e.attempt ?? ""}</td><td>${e.workerId ?? ""}</td><td class="actor">${e.actor ?? ""}</td><td class="reason">${e.reason ?? ""}</td><td>${e.error ? html`<code>${e.error.code}</code> ${e.error.message}` : ""}</td></tr>`,
  );
  return html`<table class="events"><thead><tr><th>Seq</th><th>At</th><th>Event</th><th>Step</th><th>Attempt</th><th>Worker</th><th>By</th><th>Reason</th><th>Error</th></tr></thead><tbody>${rows}</tbody></table>
${events.length > shown.length ? html`<p class="note">Showing the newest ${shown.length} of ${events.length} events.</p>` : ""}`;
}

function runActions(ctx: PageContext, run: WorkflowRun, steps: StepInfo[]): SafeHtml {
  if (!ctx.canAct) return html`<p class="note">Read-only: actions are off.</p>`;
  const runId = run.id;
  const unfinished = UNFINISHED.has(run.status);
  const failed = steps.some((s) => s.status === "failed");
  return html`<div class="actions">
${failed ? actionForm(ctx, "retry-run", { runId }, REASON) : ""}
${unfinished ? actionForm(ctx, "cancel-run", { runId }, REASON) : ""}
${run.status === "running" || run.status === "pending" ? actionForm(ctx, "pause", { runId }, REASON) : ""}
${run.status === "paused" ? actionForm(ctx, "resume", { runId }, REASON) : ""}
${unfinished ? actionForm(ctx, "signal", { runId }, html`<label>Signal name <input name="name" required></label><label>Payload (JSON) <textarea name="payload" rows="2">null</textarea></label>${REASON}`) : ""}
</div>`;
}

async function outputBlock(ctx: PageContext, run: WorkflowRun): Promise<SafeHtml> {
  if (run.status !== "succeeded") return html`<p class="none">The run has an output once it succeeded.</p>`;
  const output = await ctx.rt.output(run.id);
  return valueBlock(output);
}

/** The run detail page; `not_found` for an unknown run. */
export async function runDetailPage(ctx: PageContext, runId: string): Promise<Page> {
  const run = await ctx.rt.workflow(runId);
  if (!run) throw new WorkflowError(ErrorCodes.notFound, `no run "${runId}"`);
  const [steps, events] = await Promise.all([ctx.rt.steps(runId), ctx.rt.events(runId)]);
  const children = steps.map(childRunOf).filter((id): id is string => id !== undefined);
  const failedSteps = run.failedSteps ?? 0;
  return {
    title: `Run ${run.name}`,
    live: ctx.paths.live(run.id),
    body: html`<dl class="facts">
<dt>Id</dt><dd><code>${run.id}</code></dd>
<dt>Status</dt><dd id="run-status">${statusBadge(run.status)}${failedSteps ? html` <span class="warn">${failedSteps} failed step(s)</span>` : ""}</dd>
<dt>Package</dt><dd>${run.package}</dd>
<dt>Created</dt><dd>${when(run.createdAt)}</dd><dt>Updated</dt><dd>${when(run.updatedAt)}</dd>${run.finishedAt ? html`<dt>Finished</dt><dd>${when(run.finishedAt)}</dd>` : ""}
<dt>Metadata</dt><dd>${metadataList(run.metadata)}</dd>
<dt>Parent run</dt><dd>${run.parentRunId ? html`<a href="${ctx.paths.run(run.parentRunId)}">${run.parentRunId}</a> (step <a href="${ctx.paths.step(run.parentRunId, run.parentStepId ?? "")}">${run.parentStepId}</a>)` : html`<span class="none">none</span>`}</dd>
<dt>Child runs</dt><dd>${children.length ? html`<ul>${children.map((id) => html`<li><a href="${ctx.paths.run(id)}">${id}</a></li>`)}</ul>` : html`<span class="none">none</span>`}</dd>
</dl>
${runActions(ctx, run, steps)}
${await graphSection(ctx, run.id, steps)}
<section><h2>Steps</h2>${stepsTable(ctx, run.id, steps)}</section>
<section><h2>Input</h2>${valueBlock(run.input)}</section>
<section><h2>Output</h2>${await outputBlock(ctx, run)}</section>
<section><h2>Events</h2>${timeline(events)}</section>`,
  };
}
