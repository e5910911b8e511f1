/**
 * Payload limits. A workflow store is not a blob store: one huge value makes
 * every read of its step or run slow, bloats the event of every claim, and on
 * Postgres travels the network at each completion. Values past the limit are
 * refused up front with `payload_too_large`, before anything is written
 * (artifacts, with `storeArtifact`, are the place for big bytes).
 */
import { ErrorCodes, WorkflowError } from "./errors.js";

/**
 * The longest `delay`, `timeout` or sleep accepted: about 24.8 days. (Waits are
 * rows, not timers, but one bound for every duration keeps the rules simple;
 * `runAt` has no bound.) Kept here, in a module that imports no other of ours:
 * schemas read it while modules load, so it must not sit on an import cycle.
 */
export const MAX_DURATION_MS = 2 ** 31 - 1;

/** The default `RuntimeConfig.limits.maxPayloadBytes`: 4 MiB per encoded value. */
export const DEFAULT_MAX_PAYLOAD_BYTES = 4 * 1024 * 1024;

/** The size of an encoded value in UTF-8 bytes, measured only when it could be over `limit`. */
export function exceedsLimit(text: string, limit: number): number | undefined {
  // A UTF-16 code unit is at most 3 UTF-8 bytes: most values need no count at all.
  if (text.length * 3 <= limit) return undefined;
  const bytes = Buffer.byteLength(text, "utf8");
  return bytes > limit ? bytes : undefined;
}

export function payloadTooLarge(what: string, bytes: number, limit: number): WorkflowError {
  return new WorkflowError(ErrorCodes.payloadTooLarge, `${what} is ${bytes} bytes encoded, over the limit of ${limit} (RuntimeConfig.limits.maxPayloadBytes)`, {
    retryable: false,
    details: { bytes, limit },
  });
}

/** Throws `payload_too_large` when an encoded value (or inline bytes) is over the limit. */
export function checkPayload(text: string | Uint8Array, limit: number, what: string): void {
  const bytes = typeof text === "string" ? exceedsLimit(text, limit) : text.byteLength > limit ? text.byteLength : undefined;
  if (bytes !== undefined) throw payloadTooLarge(what, bytes, limit);
}
