// Types of workload.mjs (plain JavaScript: the fixture generator runs it under node).
import type { Runtime } from "../../src/index.js";

export declare const FIXTURE_RUNS: Record<string, { leftAs: string; endsAs: "succeeded" | "failed" | "canceled" }>;
export declare const FIXTURE_SCHEMA: string;
export declare const FIXTURE_SCHEDULE: { id: string; cron: string; package: string };
export declare function registerPackages(rt: Runtime, lib: typeof import("../../src/index.js")): void;
export declare function layOut(rt: Runtime, lib: typeof import("../../src/index.js")): Promise<{ stop(): void; workers: Promise<void> }>;
export declare function finishFixture(rt: Runtime, lib: typeof import("../../src/index.js")): Promise<Map<string, number>>;
