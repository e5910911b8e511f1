/**
 * The descriptive fields of an artifact (name, content type, kind, metadata),
 * checked and normalized once for every place that takes them: the step
 * context (inline and stored artifacts) and the artifact stores. Each ends up
 * in a store column or a file name, so nothing may carry a NUL, and a name
 * must not address anything outside a store's root (`invalid_name`).
 */
import { ErrorCodes, WorkflowError } from "../errors.js";
import { hasNul, validateName } from "../names.js";
import { inferArtifactKind } from "./kind.js";

export const DEFAULT_CONTENT_TYPE = "application/octet-stream";

/** Longest content type or kind, in characters (MIME types are far shorter). */
const MAX_LABEL = 255;

export interface ArtifactFields {
  name: string;
  contentType: string;
  kind: string;
  /** Undefined when empty: like the Go ref's JSON, an empty map is left out. */
  metadata: Record<string, string> | undefined;
}

/**
 * Checks the fields given for an artifact and returns them normalized: name
 * and labels trimmed, content type defaulted, kind inferred when empty.
 * `what` names the artifact in error messages.
 */
export function artifactFields(given: { name: unknown; contentType?: unknown; kind?: unknown; metadata?: unknown }, what: string): ArtifactFields {
  const name = validateName(given.name as string, `${what}: name`);
  const contentType = label(given.contentType, `${what}: contentType`) || DEFAULT_CONTENT_TYPE;
  const kind = label(given.kind, `${what}: kind`) || inferArtifactKind(name, contentType);
  return { name, contentType, kind, metadata: copyMetadata(given.metadata, what) };
}

function label(value: unknown, what: string): string {
  if (value === undefined || value === null) return "";
  if (typeof value !== "string" || hasNul(value) || value.length > MAX_LABEL) {
    throw new WorkflowError(ErrorCodes.invalidInput, `${what} must be a string of at most ${MAX_LABEL} characters, without NUL`);
  }
  return value.trim();
}

function copyMetadata(metadata: unknown, what: string): Record<string, string> | undefined {
  if (metadata === undefined || metadata === null) return undefined;
  if (typeof metadata !== "object" || Array.isArray(metadata)) {
    throw new WorkflowError(ErrorCodes.invalidInput, `${what}: metadata must be an object of strings`);
  }
  const copy: Record<string, string> = {};
  for (const [key, value] of Object.entries(metadata)) {
    if (typeof value !== "string" || hasNul(key) || hasNul(value)) {
      throw new WorkflowError(ErrorCodes.invalidInput, `${what}: metadata ${JSON.stringify(key.slice(0, 100))} must be a string without NUL`);
    }
    copy[key] = value;
  }
  return Object.keys(copy).length > 0 ? copy : undefined;
}
