/**
 * The one way the admin page turns values into HTML. Every page is written with
 * the `html` tagged template: each interpolated value is escaped unless it is
 * already `SafeHtml` (the output of another `html` template), so a run's step
 * names, inputs, errors and metadata can never become markup, whatever they hold.
 */

/** HTML that was built by {@link html} (or escaped by {@link escapeHtml}) and is safe to insert as it is. */
export class SafeHtml {
  readonly #text: string;
  /** @internal Build with {@link html}; never construct from user-written text. */
  constructor(text: string) {
    this.#text = text;
  }
  toString(): string {
    return this.#text;
  }
}

const ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;", "`": "&#96;" };

/** Escapes text for an HTML text node or a quoted attribute value. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"'`]/g, (c) => ESCAPES[c] as string);
}

/** A value a template may hold: text (escaped), numbers, safe HTML, lists of those; nothing for null/undefined/false. */
export type HtmlValue = string | number | SafeHtml | null | undefined | false | readonly HtmlValue[];

function render(value: HtmlValue): string {
  if (value === null || value === undefined || value === false) return "";
  if (value instanceof SafeHtml) return value.toString();
  if (Array.isArray(value)) return value.map(render).join("");
  return escapeHtml(String(value));
}

/** The tagged template every page is written with: interpolations are escaped. */
export function html(strings: TemplateStringsArray, ...values: HtmlValue[]): SafeHtml {
  let out = strings[0] ?? "";
  values.forEach((value, i) => {
    out += render(value) + (strings[i + 1] ?? "");
  });
  return new SafeHtml(out);
}
