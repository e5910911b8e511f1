/**
 * The step kinds this process's workers can run: the kinds (and aliases) of
 * its registered executors and the built-in waits. A claim carries them, so
 * that a worker never leases a step it has no code for: during a rolling
 * deploy, a step of a kind only the old (or only the new) code has stays ready
 * for a process that has it. See docs/deploying.md.
 */
import type { Registry } from "../executor.js";
import { BuiltinKinds } from "../waits.js";

const BUILTIN_KINDS: readonly string[] = Object.values(BuiltinKinds);

export class ClaimableKinds {
  readonly #registry: Registry;
  #list: readonly string[] = BUILTIN_KINDS;
  #set: ReadonlySet<string> = new Set(BUILTIN_KINDS);
  #size = -1;

  constructor(registry: Registry) {
    this.#registry = registry;
  }

  /** The kinds, sorted; the same array until an executor is registered (a claim sends it as is). */
  list(): readonly string[] {
    this.#refresh();
    return this.#list;
  }

  has(kind: string): boolean {
    this.#refresh();
    return this.#set.has(kind);
  }

  #refresh(): void {
    // Kinds are only ever added: the registry's size says whether the list is current.
    if (this.#size === this.#registry.size) return;
    this.#size = this.#registry.size;
    this.#list = Object.freeze([...new Set([...this.#registry.kinds(), ...BUILTIN_KINDS])].sort());
    this.#set = new Set(this.#list);
  }
}
