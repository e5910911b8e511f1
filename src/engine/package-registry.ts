/**
 * The packages a runtime knows, by name and by version. A name holds one
 * package, or several versions of one (packages that carry a `version`, such
 * as declarative workflows); `startRun` takes the newest unless told a version.
 * Executors a package brings are registered with it; versions of one package
 * share them.
 */
import { ErrorCodes, WorkflowError, isWorkflowError } from "../errors.js";
import { type Executor, executorKinds, type Registry } from "../executor.js";
import { hasNul } from "../names.js";
import type { PackageHost, WorkflowPackage } from "../package.js";

/** Orders versions: dot- or dash-separated parts, numerically where both parts are numbers. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split(/[.\-+]/);
  const pb = b.split(/[.\-+]/);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i] ?? "";
    const y = pb[i] ?? "";
    if (x === y) continue;
    if (/^\d+$/.test(x) && /^\d+$/.test(y)) return Number(x) - Number(y);
    return x < y ? -1 : 1;
  }
  return 0;
}

/** Packages by name and version, with the executors they bring. */
export class PackageRegistry {
  readonly #executors: Registry;
  readonly #register: (executor: Executor) => void;
  readonly #versions = new Map<string, Map<string | undefined, WorkflowPackage>>();
  readonly #newest = new Map<string, WorkflowPackage>();
  #verified = false;

  /** `register` registers an executor a package brings (with the runtime's checks). */
  constructor(executors: Registry, register: (executor: Executor) => void) {
    this.#executors = executors;
    this.#register = register;
  }

  register(pkg: WorkflowPackage): void {
    if (!pkg || typeof pkg.name !== "string" || typeof pkg.entrypoint !== "function") {
      throw new WorkflowError(ErrorCodes.invalidInput, "registerPackage needs a package built with newPackage(...).build()");
    }
    if (hasNul(pkg.name) || pkg.name.trim() === "") throw new WorkflowError(ErrorCodes.invalidInput, "a package name must be non-empty and must not contain NUL characters");
    const versions = this.#versions.get(pkg.name);
    const versioned = versions && [...versions.keys()].every((v) => v !== undefined) && pkg.version !== undefined;
    if (versions && (!versioned || versions.has(pkg.version))) {
      const which = pkg.version !== undefined && versions.has(pkg.version) ? ` (version ${pkg.version})` : "";
      throw new WorkflowError(ErrorCodes.duplicatePackage, `a package named "${pkg.name}"${which} is already registered`);
    }
    // Versions of one package bring the same executors: the first registration's stay.
    const own = versions ? [] : (pkg.executors ?? []);
    const taken = own.flatMap((e) => executorKinds(e)).find((kind) => this.#executors.get(kind) !== undefined);
    if (taken !== undefined) throw new WorkflowError(ErrorCodes.duplicateExecutor, `package "${pkg.name}" brings an executor for kind "${taken}", which is already registered`);
    for (const executor of own) this.#register(executor);
    this.#versions.set(pkg.name, new Map(versions ?? []).set(pkg.version, pkg));
    const newest = this.#newest.get(pkg.name);
    if (!newest || compareVersions(pkg.version ?? "", newest.version ?? "") > 0) this.#newest.set(pkg.name, pkg);
    this.#verified = false;
    pkg.attach?.(this.host());
  }

  /** What a package may ask of the runtime. */
  host(): PackageHost {
    return { executor: (kind) => this.#executors.get(kind), hasPackage: (name) => this.#newest.has(name) };
  }

  /** The package of that name: the given version, or the newest. `unknown_package` when there is none. */
  get(name: string, version?: string): WorkflowPackage {
    const pkg = version === undefined ? this.#newest.get(name) : this.#versions.get(name)?.get(version);
    if (pkg) return pkg;
    const known = this.versionsOf(name);
    if (version !== undefined && known.length) {
      throw new WorkflowError(ErrorCodes.unknownPackage, `package "${name}" has no version "${version}" (registered: ${known.join(", ")})`);
    }
    throw new WorkflowError(ErrorCodes.unknownPackage, `no package named "${name}" is registered`);
  }

  /**
   * The package a start names: by name (the newest version), or the package
   * object itself, which must be one registered (then that very version runs).
   */
  resolve(which: string | WorkflowPackage<unknown>): WorkflowPackage {
    if (typeof which === "string") return this.get(which);
    const name = which?.name;
    const registered = typeof name === "string" ? this.#versions.get(name)?.get(which.version) : undefined;
    if (registered !== undefined && registered === which) return registered;
    if (typeof name !== "string" || !this.#newest.has(name)) throw new WorkflowError(ErrorCodes.unknownPackage, `no package named "${String(name)}" is registered`);
    throw new WorkflowError(ErrorCodes.unknownPackage, `another package named "${name}" is registered; start runs with the registered package object or its name`);
  }

  has(name: string): boolean {
    return this.#newest.has(name);
  }

  /** The versions of the package registered here (none for an unversioned or unknown package). */
  versionsOf(name: string): string[] {
    return [...(this.#versions.get(name)?.keys() ?? [])].filter((v): v is string => v !== undefined).sort(compareVersions);
  }

  /**
   * Lets each package check, once before workers run, that what it needs is registered.
   * The `invalid_workflow` errors of every package are reported together, as one.
   */
  verify(): void {
    if (this.#verified) return;
    const failures: WorkflowError[] = [];
    for (const versions of this.#versions.values()) {
      for (const pkg of versions.values()) {
        try {
          pkg.verify?.();
        } catch (err) {
          if (!(isWorkflowError(err) && err.code === ErrorCodes.invalidWorkflow && Array.isArray(err.details))) throw err;
          failures.push(err);
        }
      }
    }
    if (failures.length === 1) throw failures[0];
    if (failures.length > 1) {
      throw new WorkflowError(ErrorCodes.invalidWorkflow, failures.map((f) => f.message).join("\n"), { details: failures.flatMap((f) => f.details as unknown[]) });
    }
    this.#verified = true;
  }
}
