/**
 * What every admin page is rendered with, the shell around it, and the action
 * forms (each a POST with the page's CSRF token, a button with the action's name).
 */
import type { Runtime } from "../engine/runtime.js";
import { html, type HtmlValue, type SafeHtml } from "./html.js";
import type { Paths } from "./format.js";
import { CSRF_FIELD } from "./security.js";

/** Everything a page needs to render itself for one request. */
export interface PageContext {
  readonly rt: Runtime;
  readonly paths: Paths;
  readonly url: URL;
  readonly request: Request;
  /** Whether action buttons are shown: `authorize` is given and `readOnly` is not set. */
  readonly canAct: boolean;
  /** This page's CSRF token, bound to the browser's cookie. */
  readonly csrfToken: string;
}

/** A rendered page, before the shell. */
export interface Page {
  readonly title: string;
  readonly body: SafeHtml;
  /** The server-sent-events URL that tells this page it is out of date, if it updates live. */
  readonly live?: string;
  readonly status?: number;
}

/** The visible name of each action's button, and the notice shown after it worked. */
/** What an operator can do from the page. */
export type AdminActionName = "retry" | "retry-run" | "retry-selected" | "cancel-run" | "pause" | "resume" | "signal" | "purge";

export const ACTION_LABELS: Readonly<Record<AdminActionName, string>> = {
  retry: "Retry",
  "retry-run": "Retry run",
  "retry-selected": "Retry selected",
  "cancel-run": "Cancel run",
  pause: "Pause",
  resume: "Resume",
  signal: "Signal",
  purge: "Purge",
};

/**
 * A form posting one action. `fields` become hidden inputs; `inputs` are the
 * visible ones (a signal's name, a date). Nothing is rendered when actions are off.
 */
export function actionForm(ctx: PageContext, action: AdminActionName, fields: Record<string, string>, inputs?: HtmlValue): SafeHtml {
  if (!ctx.canAct) return html``;
  const hidden = Object.entries(fields).map(([name, value]) => html`<input type="hidden" name="${name}" value="${value}">`);
  return html`<form method="post" action="${ctx.paths.actions()}" class="action action-${action}">
<input type="hidden" name="${CSRF_FIELD}" value="${ctx.csrfToken}"><input type="hidden" name="action" value="${action}"><input type="hidden" name="back" value="${ctx.url.pathname}${ctx.url.search}">${hidden}${inputs}<button type="submit">${ACTION_LABELS[action]}</button></form>`;
}

/** The optional reason an operator gives: written with the actor into the event the action logs. */
export const REASON = html`<label>Reason <input name="reason" placeholder="optional" maxlength="1000"></label>`;

const NOTICES: Record<string, string> = Object.fromEntries(Object.entries(ACTION_LABELS).map(([k, label]) => [k, `${label}: done.`]));

/** The page inside the shell: navigation, the notice of the last action, and the assets. */
export function shell(ctx: PageContext, page: Page): string {
  const notice = NOTICES[ctx.url.searchParams.get("notice") ?? ""];
  const count = Number(ctx.url.searchParams.get("count"));
  const counted = ctx.url.searchParams.get("notice") === "purge" && Number.isSafeInteger(count) ? ` ${count} run(s) deleted.` : "";
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${page.title} · trellis admin</title>
<link rel="stylesheet" href="${ctx.paths.asset("admin.css")}">
<script src="${ctx.paths.asset("admin.js")}" defer></script>
</head>
<body${page.live ? html` data-live="${page.live}"` : ""}>
<header>
<a class="brand" href="${ctx.paths.runs()}">trellis admin</a>
<nav><a href="${ctx.paths.runs()}">Runs</a><a href="${ctx.paths.failed()}">Failed steps</a><a href="${ctx.paths.queues()}">Queues</a></nav>
<span class="mode">${ctx.canAct ? "actions enabled" : "read-only"}</span>
<span class="live-state" id="live-state"></span>
</header>
<main id="main">
${notice ? html`<p class="notice" role="status">${notice}${counted}</p>` : ""}
<h1>${page.title}</h1>
${page.body}
</main>
</body>
</html>
`.toString();
}

/** A page that says what went wrong: the WorkflowError's message, never a stack trace. */
export function errorPage(title: string, message: string, code: string | undefined, status: number): Page {
  return {
    title,
    status,
    body: html`<p class="error" role="alert">${message}${code ? html` <code>[${code}]</code>` : ""}</p>`,
  };
}
