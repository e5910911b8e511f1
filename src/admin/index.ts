/**
 * `trellis/admin`: the operator's page, mounted in one line. Loaded only by
 * applications that import it; the root `trellis` entry never does.
 *
 * @module
 */
export { createAdmin, type Admin, type AdminOptions } from "./admin.js";
export type { AdminAction, AdminActionRecord } from "./actions.js";
export type { AdminActionName } from "./page.js";
