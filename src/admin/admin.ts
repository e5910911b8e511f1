/**
 * `createAdmin(rt, options)`: the operator's page for a runtime, as a Fetch-API
 * handler and a `node:http` listener, mounted under any `basePath`. This module
 * routes; the pages, actions, live stream and security live beside it.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { ErrorCodes, WorkflowError, isWorkflowError } from "../errors.js";
import type { Runtime } from "../engine/runtime.js";
import { actionOf, backTo, operatorNote, perform, readForm, type AdminAction, type AdminActionRecord } from "./actions.js";
import { ADMIN_CSS } from "./assets/admin-css.js";
import { ADMIN_JS } from "./assets/admin-js.js";
import { Paths } from "./format.js";
import { ChangeHub, listFingerprint, liveResponse, runFingerprint } from "./live.js";
import { toNodeListener } from "./node-adapter.js";
import { errorPage, shell, type Page, type PageContext } from "./page.js";
import { failedStepsPage } from "./pages/failed-steps.js";
import { queuesPage } from "./pages/queues.js";
import { runDetailPage } from "./pages/run-detail.js";
import { runsListPage } from "./pages/runs-list.js";
import { INLINE_ARTIFACT_URI, stepDetailPage } from "./pages/step-detail.js";
import { CSRF_COOKIE, CSRF_FIELD, Csrf, readCookie, sameOrigin, SECURITY_HEADERS } from "./security.js";

/** Options of `createAdmin(rt, options)`; every one is optional. */
export interface AdminOptions {
  /** Where the page is mounted, e.g. `"/admin"` (default: the root). Every link and form is under it. */
  basePath?: string;
  /**
   * Decides whether this request may perform this action. Without it the page
   * is read-only: every action answers 403. Called after the Origin and CSRF checks.
   */
  authorize?: (request: Request, action: AdminAction) => boolean | Promise<boolean>;
  /**
   * Who is acting (default `"anonymous"`): written with the reason the
   * operator gave into the event each action logs in the run's event log
   * (the run page's Events table shows both), and handed to `onAction`.
   */
  actor?: (request: Request) => string;
  /** Shows no action and refuses every one (403), whatever `authorize` says. */
  readOnly?: boolean;
  /** Hears each action that succeeded, with its actor and reason: an audit trail. */
  onAction?: (record: AdminActionRecord) => void;
  /**
   * Signs the CSRF tokens (default: random per `createAdmin`, so pages rendered
   * before a restart must be reloaded). Give the same secret to every instance
   * behind one load balancer.
   */
  csrfSecret?: string;
  /** Origins besides the request's own that may POST actions, e.g. a proxy's public `https://ops.example.com`. */
  trustedOrigins?: string[];
  /** Hears errors that are not `WorkflowError`s (the page shows "internal error", never the error). */
  onError?: (err: unknown) => void;
}

/** The mounted page: one handler for Fetch-API servers, one for `node:http`. */
export interface Admin {
  /** Answers one request, for servers built on the Fetch API. */
  fetch(request: Request): Promise<Response>;
  /** The same handler as a `node:http` request listener (`http.createServer(admin.node)`). */
  node(req: IncomingMessage, res: ServerResponse): void;
}

const HTTP_STATUS: Record<string, number> = {
  [ErrorCodes.notFound]: 404,
  [ErrorCodes.invalidState]: 409,
  [ErrorCodes.invalidArgument]: 400,
  [ErrorCodes.invalidInput]: 400,
  [ErrorCodes.payloadTooLarge]: 413,
  [ErrorCodes.forbidden]: 403,
};

function normalizeBase(basePath: string | undefined): string {
  const base = (basePath ?? "").replace(/\/+$/, "");
  if (base !== "" && (!base.startsWith("/") || /[?#;,\s]/.test(base))) {
    throw new WorkflowError(ErrorCodes.invalidInput, `createAdmin: basePath must be a path starting with "/", not ${JSON.stringify(basePath)}`);
  }
  return base;
}

const forbidden = (message: string) => new WorkflowError(ErrorCodes.forbidden, message);

/** Creates the admin page for `rt`; see {@link AdminOptions}. */
export function createAdmin(rt: Runtime, options: AdminOptions = {}): Admin {
  const base = normalizeBase(options.basePath);
  const paths = new Paths(base);
  const csrf = new Csrf(options.csrfSecret);
  const hub = new ChangeHub(rt);
  const canAct = options.authorize !== undefined && options.readOnly !== true;
  const trusted = options.trustedOrigins ?? [];

  /** The page's context, with the browser's CSRF cookie (a new one is set when it has none). */
  function contextFor(request: Request, url: URL): { ctx: PageContext; setCookie?: string } {
    let cookie = readCookie(request.headers.get("cookie"), CSRF_COOKIE);
    let setCookie: string | undefined;
    if (!cookie || !/^[A-Za-z0-9_-]{16,64}$/.test(cookie)) {
      cookie = csrf.newCookieValue();
      const secure = url.protocol === "https:" ? "; Secure" : "";
      setCookie = `${CSRF_COOKIE}=${cookie}; Path=${base || "/"}; HttpOnly; SameSite=Strict${secure}`;
    }
    return { ctx: { rt, paths, url, request, canAct, csrfToken: csrf.tokenFor(cookie) }, ...(setCookie ? { setCookie } : {}) };
  }

  function htmlResponse(ctx: PageContext, page: Page, setCookie: string | undefined): Response {
    const headers: Record<string, string> = { ...SECURITY_HEADERS, "content-type": "text/html; charset=utf-8", "cache-control": "no-store" };
    if (setCookie) headers["set-cookie"] = setCookie;
    return new Response(shell(ctx, page), { status: page.status ?? 200, headers });
  }

  function failure(err: unknown): Page {
    if (isWorkflowError(err)) return errorPage("Refused", err.message, err.code, HTTP_STATUS[err.code] ?? 500);
    options.onError?.(err);
    return errorPage("Error", "internal error", undefined, 500);
  }

  async function page(request: Request, url: URL, segments: string[]): Promise<Response> {
    const { ctx, setCookie } = contextFor(request, url);
    let rendered: Page;
    try {
      rendered = await render(ctx, segments);
    } catch (err) {
      rendered = failure(err);
    }
    return htmlResponse(ctx, rendered, setCookie);
  }

  async function render(ctx: PageContext, s: string[]): Promise<Page> {
    if (s.length === 1 && s[0] === "") return runsListPage(ctx);
    if (s.length === 1 && s[0] === "failed") return failedStepsPage(ctx);
    if (s.length === 1 && s[0] === "queues") return queuesPage(ctx);
    if (s[0] === "runs" && s.length === 2) return runDetailPage(ctx, s[1] as string);
    if (s[0] === "runs" && s.length === 4 && s[2] === "steps") return stepDetailPage(ctx, s[1] as string, s[3] as string);
    throw new WorkflowError(ErrorCodes.notFound, "no such page");
  }

  async function artifact(runId: string, artifactId: string): Promise<Response> {
    const { ref, body } = await rt.readArtifact(runId, artifactId);
    if (!ref.uri.startsWith(INLINE_ARTIFACT_URI)) throw new WorkflowError(ErrorCodes.notFound, `artifact "${artifactId}" is kept in an ArtifactStore (${ref.uri}), not in the run`);
    // Always a download, never rendered here: an artifact's bytes are whatever a step wrote.
    const filename = ref.name.replace(/[^\w.-]+/g, "_").slice(0, 100) || "artifact";
    return new Response(body, {
      headers: {
        ...SECURITY_HEADERS,
        "content-security-policy": "default-src 'none'; sandbox",
        "content-type": "application/octet-stream",
        "content-disposition": `attachment; filename="${filename}"; filename*=UTF-8''${encodeURIComponent(ref.name)}`,
        "cache-control": "no-store",
      },
    });
  }

  async function act(request: Request, url: URL): Promise<Response> {
    const { ctx, setCookie } = contextFor(request, url);
    let action: AdminAction | undefined;
    try {
      if (!canAct) throw forbidden("the admin page is read-only: actions need the authorize option (and readOnly unset)");
      if (!sameOrigin(request, trusted)) throw forbidden("refused: the request does not come from this admin page (Origin check)");
      const form = await readForm(request);
      if (!csrf.verify(readCookie(request.headers.get("cookie"), CSRF_COOKIE), form.get(CSRF_FIELD) ?? undefined)) {
        throw forbidden("refused: the CSRF token is missing or does not match (reload the page and try again)");
      }
      action = actionOf(form);
      if (!(await options.authorize?.(request, action))) throw forbidden(`not authorized to ${action.name}`);
      const note = operatorNote(options.actor?.(request), form);
      const count = await perform(rt, action, form, note);
      options.onAction?.({ ...action, ...note, ...(count !== undefined ? { count } : {}) });
      const back = new URL(backTo(form, base), url);
      back.searchParams.set("notice", action.name);
      if (action.name === "purge") back.searchParams.set("count", String(count ?? 0));
      else back.searchParams.delete("count");
      return new Response(null, { status: 303, headers: { ...SECURITY_HEADERS, location: `${back.pathname}${back.search}` } });
    } catch (err) {
      return htmlResponse(ctx, failure(err), setCookie);
    }
  }

  function asset(name: string | undefined): Response {
    const body = name === "admin.js" ? ADMIN_JS : name === "admin.css" ? ADMIN_CSS : undefined;
    if (body === undefined) return new Response("not found\n", { status: 404, headers: SECURITY_HEADERS });
    const type = name === "admin.js" ? "text/javascript" : "text/css";
    return new Response(body, { headers: { ...SECURITY_HEADERS, "content-type": `${type}; charset=utf-8`, "cache-control": "public, max-age=300" } });
  }

  async function handle(request: Request): Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname !== base && !url.pathname.startsWith(`${base}/`)) return new Response("not found\n", { status: 404, headers: SECURITY_HEADERS });
    if (url.pathname === base) return new Response(null, { status: 308, headers: { location: `${base}/${url.search}` } });
    let segments: string[];
    try {
      segments = url.pathname.slice(base.length + 1).split("/").map(decodeURIComponent);
    } catch {
      return new Response("bad path\n", { status: 400, headers: SECURITY_HEADERS });
    }
    const method = request.method.toUpperCase();
    if (segments[0] === "actions" && segments.length === 1) {
      if (method === "POST") return act(request, url);
      return new Response("use POST\n", { status: 405, headers: { ...SECURITY_HEADERS, allow: "POST" } });
    }
    if (method !== "GET" && method !== "HEAD") return new Response("method not allowed\n", { status: 405, headers: { ...SECURITY_HEADERS, allow: "GET, HEAD" } });
    if (segments[0] === "assets" && segments.length === 2) return asset(segments[1]);
    if (segments[0] === "live" && segments.length === 1) {
      const runId = url.searchParams.get("run");
      return liveResponse(hub, runId === null ? listFingerprint(rt) : runFingerprint(rt, runId), request.signal, SECURITY_HEADERS);
    }
    if (segments[0] === "runs" && segments.length === 4 && segments[2] === "artifacts") {
      try {
        return await artifact(segments[1] as string, segments[3] as string);
      } catch (err) {
        const { ctx, setCookie } = contextFor(request, url);
        return htmlResponse(ctx, failure(err), setCookie);
      }
    }
    return page(request, url, segments);
  }

  const fetch = async (request: Request): Promise<Response> => {
    try {
      return await handle(request);
    } catch (err) {
      options.onError?.(err);
      return new Response("internal error\n", { status: 500, headers: SECURITY_HEADERS });
    }
  };
  return { fetch, node: toNodeListener(fetch) };
}
