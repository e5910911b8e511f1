/**
 * Helpers of the schedule tests: runtimes on a shared store driven by one fake
 * clock, a package whose runs can be held open, and a seeded RNG so that a
 * failing random schedule of restarts reproduces.
 */
import { newExecutor, newPackage, newRuntime, type Runtime, type WorkflowRun } from "../../src/index.js";
import type { StoreConfig } from "../../src/store/store.js";

export const MINUTE = 60_000;

/** mulberry32: small, fast, and the same sequence for the same seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The clock every runtime of a test reads. */
export class FakeClock {
  constructor(public now: number) {}
  readonly read = () => this.now;
  advance(ms: number): void {
    this.now += ms;
  }
}

/**
 * A runtime with package "tick" (one step that succeeds) and, with `hold`,
 * package "held" (a step that waits for signal "go": its run stays unfinished).
 */
export async function scheduleRuntime(store: StoreConfig, clock: FakeClock, opts: { packages?: boolean; errors?: unknown[] } = {}): Promise<Runtime> {
  const rt = await newRuntime({ store, clock: clock.read, onError: (e) => opts.errors?.push(e) });
  if (opts.packages === false) return rt;
  rt.registerExecutor(newExecutor("tick/ok", async (step) => step.result(step.rawInput())));
  rt.registerPackage(newPackage("tick").entrypoint((run, input) => void run.step("only", input ?? null, { kind: "tick/ok" })).build());
  rt.registerPackage(newPackage("held").entrypoint((run) => void run.waitForSignal("wait", "go")).build());
  return rt;
}

/** The scheduled runs of a schedule, by tick (ISO), oldest first. */
export async function runsOf(rt: Runtime, scheduleId: string): Promise<WorkflowRun[]> {
  const runs = await rt.listRuns({ limit: 1000 });
  return runs.filter((r) => r.metadata["trellis.schedule"] === scheduleId).sort((a, b) => (a.id < b.id ? -1 : 1));
}

export const ticksOf = (runs: WorkflowRun[]): string[] => runs.map((r) => r.metadata["trellis.scheduleTick"] as string);

/** The ISO ticks of a minute schedule from `from` (exclusive) to `to` (inclusive). */
export function minuteTicks(from: number, to: number): string[] {
  const ticks: string[] = [];
  for (let t = Math.floor(from / MINUTE) * MINUTE + MINUTE; t <= to; t += MINUTE) ticks.push(new Date(t).toISOString());
  return ticks;
}
