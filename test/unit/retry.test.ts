import { describe, expect, it } from "vitest";
import { backoffDelay, resolveRetryPolicy } from "../../src/retry.js";

describe("retry policy", () => {
  it("defaults to one attempt, exponential from 1 s doubling, no cap, no jitter", () => {
    expect(resolveRetryPolicy(undefined)).toEqual({ maxAttempts: 1, backoff: "exponential", initialBackoff: 1000, multiplier: 2, jitter: false });
  });

  it("computes the delay before attempt n+1 for each kind, capped by maxBackoff", () => {
    const delays = (policy: Parameters<typeof resolveRetryPolicy>[0]) =>
      [1, 2, 3, 4, 5].map((n) => backoffDelay(resolveRetryPolicy(policy), n));
    expect(delays({ backoff: "fixed", initialBackoff: 500 })).toEqual([500, 500, 500, 500, 500]);
    expect(delays({ backoff: "linear", initialBackoff: 500 })).toEqual([500, 1000, 1500, 2000, 2500]);
    expect(delays({})).toEqual([1000, 2000, 4000, 8000, 16000]);
    expect(delays({ multiplier: 3, initialBackoff: 100 })).toEqual([100, 300, 900, 2700, 8100]);
    expect(delays({ maxBackoff: 10_000 })).toEqual([1000, 2000, 4000, 8000, 10_000]);
  });

  it("spreads a jittered delay over [delay/2, delay]", () => {
    const policy = resolveRetryPolicy({ backoff: "fixed", initialBackoff: 1000, jitter: true });
    expect(backoffDelay(policy, 1, () => 0)).toBe(500);
    expect(backoffDelay(policy, 1, () => 0.5)).toBe(750);
    expect(backoffDelay(policy, 1, () => 0.999999)).toBe(1000);
  });
});
