/**
 * The step detail page (`<basePath>/runs/<runId>/steps/<stepId>`): the step's
 * input, result or error (code and details), each attempt as the event log
 * tells it, its events, records and artifacts (inline ones download here).
 */
import { ErrorCodes, WorkflowError } from "../../errors.js";
import type { RunEvent, StepError, StepResult } from "../../types.js";
import { metadataList, statusBadge, valueBlock, when } from "../format.js";
import { html, type SafeHtml } from "../html.js";
import { actionForm, type Page, type PageContext } from "../page.js";
import { timeline } from "./run-detail.js";

/** Refs whose bytes live in the run's own store (the rest point at an ArtifactStore). */
export const INLINE_ARTIFACT_URI = "trellis:artifact/";

interface Attempt {
  attempt: number;
  claimedAt?: Date;
  workerId?: string;
  outcome?: string;
  endedAt?: Date;
  error?: StepError;
}

const ENDINGS = new Set(["step_succeeded", "step_failed", "step_retry_scheduled", "step_reclaimed", "step_canceled", "step_waiting"]);

/** Each attempt from the step's events: when it was claimed, by whom, how it ended. */
export function attemptsOf(events: RunEvent[]): Attempt[] {
  const attempts: Attempt[] = [];
  let current: Attempt | undefined;
  for (const e of events) {
    if (e.type === "step_claimed") {
      current = { attempt: e.attempt ?? attempts.length + 1, claimedAt: e.at, ...(e.workerId ? { workerId: e.workerId } : {}) };
      attempts.push(current);
    } else if (current && ENDINGS.has(e.type) && current.outcome === undefined) {
      current.outcome = e.type.replace(/^step_/, "");
      current.endedAt = e.at;
      if (e.error) current.error = e.error;
    }
  }
  return attempts;
}

function errorBlock(error: StepError | undefined): SafeHtml {
  if (!error) return html`<p class="none">No error.</p>`;
  return html`<dl class="facts error-facts"><dt>Code</dt><dd><code class="error-code">${error.code}</code></dd><dt>Message</dt><dd class="error-message">${error.message}</dd>
<dt>Retryable</dt><dd>${error.retryable ? "yes" : "no"}</dd><dt>At</dt><dd>${when(error.occurredAt)}</dd></dl>
${error.details === undefined ? "" : html`<h3>Details</h3>${valueBlock(error.details)}`}`;
}

function resultBlock(ctx: PageContext, runId: string, result: StepResult | undefined): SafeHtml {
  if (!result) return html`<p class="none">No result yet.</p>`;
  const records = result.records.map((r) => html`<li><code>${r.collection}/${r.key}</code>${valueBlock(r.data)}</li>`);
  const artifacts = result.artifacts.map((a) => {
    const link = a.uri.startsWith(INLINE_ARTIFACT_URI) ? html`<a href="${ctx.paths.artifact(runId, a.id)}" download>download</a>` : html`<code>${a.uri}</code>`;
    return html`<tr><td>${a.name}</td><td>${a.kind}</td><td>${a.contentType}</td><td>${a.size}</td><td>${link}</td></tr>`;
  });
  return html`<h3>Data</h3>${result.error ? html`<p class="none">The last attempt failed.</p>` : valueBlock(result.data)}
<h3>Records</h3>${records.length ? html`<ul class="records">${records}</ul>` : html`<p class="none">none</p>`}
<h3>Artifacts</h3>${artifacts.length ? html`<table class="artifacts"><thead><tr><th>Name</th><th>Kind</th><th>Type</th><th>Bytes</th><th></th></tr></thead><tbody>${artifacts}</tbody></table>` : html`<p class="none">none</p>`}
${result.emittedIds.length ? html`<h3>Emitted steps</h3><ul>${result.emittedIds.map((id) => html`<li><a href="${ctx.paths.step(runId, id)}">${id}</a></li>`)}</ul>` : ""}`;
}

/** The step detail page; `not_found` for an unknown run or step. */
export async function stepDetailPage(ctx: PageContext, runId: string, stepId: string): Promise<Page> {
  const step = await ctx.rt.step(runId, stepId);
  if (!step) throw new WorkflowError(ErrorCodes.notFound, `no step "${stepId}" in run "${runId}"`);
  const [result, allEvents] = await Promise.all([ctx.rt.result(runId, stepId), ctx.rt.events(runId)]);
  const events = allEvents.filter((e) => e.stepId === stepId);
  const attempts = attemptsOf(events).map(
    (a) => html`<tr><td>${a.attempt}</td><td>${when(a.claimedAt)}</td><td>${a.workerId ?? ""}</td><td>${a.outcome ?? "running"}</td><td>${when(a.endedAt)}</td><td>${a.error ? html`<code>${a.error.code}</code> ${a.error.message}` : ""}</td></tr>`,
  );
  const retry = step.status === "failed" || step.status === "canceled" ? actionForm(ctx, "retry", { runId, stepId }) : "";
  return {
    title: `Step ${stepId}`,
    live: ctx.paths.live(runId),
    body: html`<p><a href="${ctx.paths.run(runId)}">← run ${runId}</a></p>
<dl class="facts">
<dt>Status</dt><dd id="step-status">${statusBadge(step.status)}</dd><dt>Kind</dt><dd>${step.kind}</dd><dt>Queue</dt><dd>${step.queue}</dd>
<dt>Attempt</dt><dd>${step.attempt}/${step.maxAttempts} (reclaimed ${step.reclaims} times)</dd><dt>Priority</dt><dd>${step.priority}</dd>
<dt>Depends on</dt><dd>${step.dependsOn.length ? step.dependsOn.map((d) => html`<a href="${ctx.paths.step(runId, d.stepId)}">${d.stepId}</a> (on ${d.on ?? "succeeded"}) `) : html`<span class="none">none</span>`}</dd>
<dt>Waits for</dt><dd>${step.waitingFor ?? ""}</dd><dt>Started</dt><dd>${when(step.startedAt)}</dd><dt>Finished</dt><dd>${when(step.finishedAt)}</dd>
<dt>Metadata</dt><dd>${metadataList(step.metadata)}</dd>
</dl>
<div class="actions">${retry}</div>
<section><h2>Input</h2>${valueBlock(step.input)}</section>
<section><h2>Result</h2>${resultBlock(ctx, runId, result)}</section>
<section><h2>Last error</h2>${errorBlock(step.lastError)}</section>
<section><h2>Attempts</h2><table class="attempts"><thead><tr><th>Attempt</th><th>Claimed</th><th>Worker</th><th>Outcome</th><th>Ended</th><th>Error</th></tr></thead><tbody>${attempts}</tbody></table></section>
<section><h2>Events</h2>${timeline(events)}</section>`,
  };
}
