/**
 * Small pieces every admin page shows the same way: times, statuses, values,
 * links. Each returns `SafeHtml` built with `html`, so what users wrote stays text.
 */
import { html, type SafeHtml } from "./html.js";

/** How much of a value a page shows; the rest is cut with a note (a page stays small whatever a run holds). */
export const MAX_VALUE_CHARS = 20_000;

/** A time as ISO text (UTC), or a dash. */
export function when(date: Date | undefined): SafeHtml {
  if (!date) return html`<span class="none">–</span>`;
  return html`<time datetime="${date.toISOString()}">${date.toISOString().replace("T", " ").replace("Z", "")}</time>`;
}

/** A run or step status as a coloured badge. */
export function statusBadge(status: string): SafeHtml {
  return html`<span class="status status-${status}">${status}</span>`;
}

/** JSON text of any decoded value; values JSON cannot hold (bigint, cycles) are shown as well as they can be. */
export function toDisplayJson(value: unknown): string {
  if (value === undefined) return "undefined";
  try {
    const seen = new WeakSet<object>();
    return JSON.stringify(
      value,
      (_key, v: unknown) => {
        if (typeof v === "bigint") return `${v}n`;
        if (v instanceof Map) return Object.fromEntries(v);
        if (v instanceof Set) return [...v];
        if (typeof v === "object" && v !== null) {
          if (seen.has(v)) return "[circular]";
          seen.add(v);
        }
        return v;
      },
      2,
    );
  } catch {
    return String(value);
  }
}

/** A value in a `<pre>` block, cut at {@link MAX_VALUE_CHARS}. */
export function valueBlock(value: unknown): SafeHtml {
  const text = toDisplayJson(value);
  if (text.length <= MAX_VALUE_CHARS) return html`<pre class="value">${text}</pre>`;
  return html`<pre class="value">${text.slice(0, MAX_VALUE_CHARS)}</pre><p class="note">Cut at ${MAX_VALUE_CHARS} of ${text.length} characters.</p>`;
}

/** Metadata as `key=value` chips. */
export function metadataList(metadata: Record<string, string>): SafeHtml {
  const entries = Object.entries(metadata);
  if (entries.length === 0) return html`<span class="none">none</span>`;
  return html`<ul class="chips">${entries.map(([k, v]) => html`<li><code>${k}=${v}</code></li>`)}</ul>`;
}

/** Where the admin's pages live, given its base path: every link is built here, each id URL-encoded. */
export class Paths {
  readonly base: string;
  constructor(base: string) {
    this.base = base;
  }
  runs(query?: URLSearchParams): string {
    const q = query?.toString();
    return `${this.base}/${q ? `?${q}` : ""}`;
  }
  run(runId: string): string {
    return `${this.base}/runs/${encodeURIComponent(runId)}`;
  }
  step(runId: string, stepId: string): string {
    return `${this.run(runId)}/steps/${encodeURIComponent(stepId)}`;
  }
  artifact(runId: string, artifactId: string): string {
    return `${this.run(runId)}/artifacts/${encodeURIComponent(artifactId)}`;
  }
  failed(query?: URLSearchParams): string {
    const q = query?.toString();
    return `${this.base}/failed${q ? `?${q}` : ""}`;
  }
  queues(): string {
    return `${this.base}/queues`;
  }
  actions(): string {
    return `${this.base}/actions`;
  }
  live(runId?: string): string {
    return `${this.base}/live${runId === undefined ? "" : `?run=${encodeURIComponent(runId)}`}`;
  }
  asset(name: string): string {
    return `${this.base}/assets/${name}`;
  }
}
