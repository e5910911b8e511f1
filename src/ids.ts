/**
 * Time-ordered ids in the UUIDv7 layout: 48 bits of milliseconds, then random
 * bits. Run ids the runtime generates are keys of several indexes; ids that
 * grow with time are appended at the right edge of those B-trees instead of
 * landing on random pages, which keeps bulk starts fast as the store grows.
 */
import { randomFillSync } from "node:crypto";

const pool = new Uint8Array(16 * 256);
let offset = pool.length;

export function timeOrderedId(now = Date.now()): string {
  if (offset + 10 > pool.length) {
    randomFillSync(pool);
    offset = 0;
  }
  const r = pool.subarray(offset, offset + 10);
  offset += 10;
  const hex = (n: number, width: number) => n.toString(16).padStart(width, "0");
  const time = hex(now, 12);
  const rand = Array.from(r, (b) => hex(b, 2)).join("");
  // version 7 in the 13th digit, variant 10xx in the 17th
  const variant = ((r[2] as number) & 0x3) | 0x8;
  return `${time.slice(0, 8)}-${time.slice(8, 12)}-7${rand.slice(0, 3)}-${variant.toString(16)}${rand.slice(5, 8)}-${rand.slice(8, 20)}`;
}
