/**
 * The W3C `traceparent` a run carries in its metadata, under a reserved key:
 * the trace context of the code that started it, which every step's span
 * continues, in whichever process and however much later it runs.
 *
 * Written and read here by hand rather than through a propagator: the W3C
 * propagator lives in the OpenTelemetry SDK, not in `@opentelemetry/api`, and
 * the format is one line.
 */
import { ErrorCodes, WorkflowError } from "../errors.js";

/** The run metadata key holding the run's trace context. Reserved: only a valid `traceparent` may be stored there. */
export const TRACEPARENT_KEY = "trellis.traceparent";

/** The parts of a trace context that a `traceparent` carries. */
export interface TraceParent {
  traceId: string;
  spanId: string;
  traceFlags: number;
}

// version 00: 2 hex, 32 hex trace id, 16 hex span id, 2 hex flags; all-zero ids are invalid.
const FORMAT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** Parses a `traceparent`; undefined for anything that is not a valid version-00 one. */
export function parseTraceparent(text: string | undefined): TraceParent | undefined {
  const match = text === undefined ? null : FORMAT.exec(text);
  if (!match) return undefined;
  const [, traceId, spanId, flags] = match as unknown as [string, string, string, string];
  if (/^0+$/.test(traceId) || /^0+$/.test(spanId)) return undefined;
  return { traceId, spanId, traceFlags: Number.parseInt(flags, 16) };
}

/** Writes a version-00 `traceparent`. */
export function formatTraceparent(parent: TraceParent): string {
  return `00-${parent.traceId}-${parent.spanId}-${(parent.traceFlags & 0xff).toString(16).padStart(2, "0")}`;
}

/**
 * Checks the reserved key of a run's metadata (from `startRun` options or the
 * entrypoint's `run.metadata()`): absent, or a valid `traceparent` (a caller
 * may link a run to a trace of its own choosing). Anything else is
 * `invalid_input`, so that a bad value never reaches the store.
 */
export function checkTraceparentMetadata(metadata: Record<string, string>): void {
  const value = metadata[TRACEPARENT_KEY];
  if (value !== undefined && !parseTraceparent(value)) {
    throw new WorkflowError(ErrorCodes.invalidInput, `run metadata "${TRACEPARENT_KEY}" is reserved for a W3C traceparent (00-<32 hex>-<16 hex>-<2 hex>)`);
  }
}
