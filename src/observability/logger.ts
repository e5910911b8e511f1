/**
 * The logger trellis writes its lifecycle to: the shape pino, winston (with a
 * small adapter) and `console` share, and the engine's own wrapper around it,
 * which never throws (a logger that fails must not stop a worker) and binds
 * fields with `child` where the logger has one.
 */

/** Structured fields of a log line: run id, step id, kind, queue, attempt, code... */
export type LogFields = Record<string, unknown>;

/** One level of a {@link Logger}: `(fields, message)` like pino, or just `(message)`. */
export interface LogMethod {
  (fields: LogFields, message?: string): void;
  (message: string): void;
}

/**
 * What `RuntimeConfig.logger` takes: pino, a winston adapter, `console`, or
 * anything with these four levels. `child(bindings)` is used when present so
 * bound fields (run id, step id) appear the logger's own way.
 */
export interface Logger {
  /** Each step's claim and outcome, and other detail (off in the default logger). */
  debug: LogMethod;
  /** Lifecycle: store opened, workers started and stopped. */
  info: LogMethod;
  /** Trouble the engine handled: reclaims, lost leases, slow claims. */
  warn: LogMethod;
  /** Errors the engine survived (a store failure, a listener that threw). */
  error: LogMethod;
  /** A logger that adds `bindings` to every line; used when present. */
  child?(bindings: LogFields): Logger;
}

/** The four levels of a {@link Logger}, lowest first. */
export type LogLevel = "debug" | "info" | "warn" | "error";

const LEVELS: readonly LogLevel[] = ["debug", "info", "warn", "error"];
const ignore = () => undefined;

/**
 * The logger a runtime uses when none is configured: `warn` and `error` to the
 * console, the rest dropped (trellis is silent unless something needs a look).
 */
export const defaultLogger: Logger = {
  debug: ignore,
  info: ignore,
  warn: (fields: LogFields | string, message?: string) => console.warn("[trellis]", ...lineArgs(fields, message)),
  error: (fields: LogFields | string, message?: string) => console.error("[trellis]", ...lineArgs(fields, message)),
};

function lineArgs(fields: LogFields | string, message: string | undefined): unknown[] {
  if (typeof fields === "string") return [fields];
  return message === undefined ? [fields] : [message, fields];
}

/**
 * The engine's side of a logger: every call safe, fields bound by `child`
 * (the logger's own when it has one, merged into each line otherwise).
 * `debugEnabled` lets hot paths skip building fields nobody will see.
 */
export class EngineLogger {
  readonly #target: Logger;
  readonly #bindings: LogFields | undefined;
  /** False for the default logger, which drops `debug`: per-step lines are not even built. */
  readonly debugEnabled: boolean;

  constructor(target: Logger, debugEnabled: boolean, bindings?: LogFields) {
    this.#target = target;
    this.debugEnabled = debugEnabled;
    this.#bindings = bindings;
  }

  debug(fields: LogFields, message: string): void {
    if (this.debugEnabled) this.#write("debug", fields, message);
  }
  info(fields: LogFields, message: string): void {
    this.#write("info", fields, message);
  }
  warn(fields: LogFields, message: string): void {
    this.#write("warn", fields, message);
  }
  error(fields: LogFields, message: string): void {
    this.#write("error", fields, message);
  }

  /** A logger whose lines all carry `bindings`. */
  child(bindings: LogFields): EngineLogger {
    const own = this.#target.child;
    if (typeof own === "function") {
      try {
        return new EngineLogger(own.call(this.#target, bindings), this.debugEnabled);
      } catch {
        // A child that cannot be made: bind the fields ourselves.
      }
    }
    return new EngineLogger(this.#target, this.debugEnabled, { ...this.#bindings, ...bindings });
  }

  /** The user-facing shape (`step.logger`): the four levels, each safe, and `child`. */
  asLogger(): Logger {
    const logger = {} as Logger;
    for (const level of LEVELS) {
      logger[level] = ((fields: LogFields | string, message?: string) => {
        if (typeof fields === "string") this.#write(level, {}, fields);
        else this.#write(level, fields ?? {}, message);
      }) as LogMethod;
    }
    logger.child = (bindings) => this.child(bindings).asLogger();
    return logger;
  }

  #write(level: LogLevel, fields: LogFields, message: string | undefined): void {
    try {
      const line = this.#bindings ? { ...this.#bindings, ...fields } : fields;
      const method = this.#target[level] as unknown;
      if (typeof method !== "function") return;
      const returned: unknown = message === undefined ? method.call(this.#target, line) : method.call(this.#target, line, message);
      if (returned instanceof Promise) returned.catch(ignore);
    } catch {
      // A logger that throws loses its line, never the worker.
    }
  }
}

/** The fields that name an error in a log line: its code, and the error itself (`err`, which pino serializes). */
export function errorFields(err: unknown): LogFields {
  let code: unknown;
  try {
    code = (err as { code?: unknown } | null)?.code;
  } catch {
    // A hostile value: the line goes out without its code.
  }
  return typeof code === "string" ? { code, err } : { err };
}
