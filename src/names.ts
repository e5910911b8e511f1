import { z } from "zod";
import { ErrorCodes, WorkflowError } from "./errors.js";

/** Whether a string holds a NUL character, which a PostgreSQL text column cannot store. */
export const hasNul = (s: unknown): boolean => typeof s === "string" && s.includes("\u0000");

/**
 * A string the stores keep in a column as it is (ids, names, queues, kinds):
 * non-empty unless `min` is 0, at most `max` characters, and without NUL.
 */
export function storedText(min = 1, max = 1_000): z.ZodType<string> {
  return z
    .string()
    .min(min)
    .max(max)
    .refine((s) => !s.includes("\u0000"), "must not contain NUL characters");
}

/**
 * Longest accepted name, in UTF-8 bytes. File systems limit one path component to
 * 255 bytes; the stores append suffixes to a name (`.db`, `-wal`, `.ref.json`,
 * `.<uuid>.tmp`), so 200 leaves room for the longest of them. Counting bytes, not
 * characters, keeps a 200-character name in a multi-byte script from failing later
 * with a raw `ENAMETOOLONG`.
 */
export const MAX_NAME_BYTES = 200;

/**
 * Checks a projection or artifact name and returns it trimmed.
 *
 * Names become file names directly under a store's root directory, so a name must
 * not be able to address anything else: it is rejected with `invalid_name` when it
 * is empty or whitespace, is `.`, contains `..`, `/`, `\` or NUL, or is longer than
 * {@link MAX_NAME_BYTES} UTF-8 bytes. Unlike the Go package, names are never
 * rewritten into a "safe" form, so two different names can never share a file.
 *
 * @param name the name as given by the caller
 * @param what what the name names, for the error message (e.g. `"artifact id"`)
 */
export function validateName(name: string, what: string): string {
  if (typeof name !== "string") {
    throw new WorkflowError(ErrorCodes.invalidName, `${what} must be a string`);
  }
  const trimmed = name.trim();
  const reject = (reason: string): never => {
    throw new WorkflowError(ErrorCodes.invalidName, `${what} ${JSON.stringify(name)} ${reason}`, {
      details: { name, reason },
    });
  };
  if (trimmed === "") reject("is empty");
  // "." alone is the root directory itself.
  if (trimmed === ".") reject("is the root directory");
  if (trimmed.includes("..")) reject('contains ".."');
  if (trimmed.includes("/")) reject('contains "/"');
  if (trimmed.includes("\\")) reject('contains "\\"');
  if (trimmed.includes("\0")) reject("contains NUL");
  if (Buffer.byteLength(trimmed, "utf8") > MAX_NAME_BYTES) reject(`is longer than ${MAX_NAME_BYTES} bytes`);
  return trimmed;
}
