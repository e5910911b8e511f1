import { randomUUID } from "node:crypto";
import { constants as fsConstants } from "node:fs";
import { mkdir, open as openFile, readFile, rename, rm, type FileHandle } from "node:fs/promises";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { ErrorCodes, WorkflowError, isWorkflowError } from "../errors.js";
import { validateName } from "../names.js";
import type { ArtifactObject, ArtifactRef, ArtifactStore } from "./artifact-store.js";
import { artifactFields } from "./fields.js";

const REF_SUFFIX = ".ref.json";
// How often `open` re-reads when the body and its ref disagree (a concurrent `put`
// of the same id sits between its two renames). Two renames are microseconds apart.
const OPEN_ATTEMPTS = 5;

/**
 * An {@link ArtifactStore} keeping each artifact as a file `<root>/<id>` with its
 * {@link ArtifactRef} in a sidecar `<root>/<id>.ref.json`.
 *
 * Ids are validated with {@link validateName} (and may not end in `.ref.json`, the
 * sidecar suffix), so every artifact is one flat file directly under the root and no
 * id can reach outside it or collide with another id's files. Both files are written
 * to a temporary file and renamed into place, so a reader never sees a partial file.
 */
export class FileArtifactStore implements ArtifactStore {
  /** Absolute, so URIs stay valid and a later `process.chdir` does not move the store. */
  readonly root: string;

  /** @param root directory holding the artifacts; created on the first `put`. */
  constructor(root: string) {
    if (typeof root !== "string" || root.trim() === "") {
      throw new WorkflowError(ErrorCodes.invalidConfig, "file artifact store root is required");
    }
    this.root = path.resolve(root);
  }

  async put(a: ArtifactObject): Promise<ArtifactRef> {
    if (a === null || typeof a !== "object") {
      throw new WorkflowError(ErrorCodes.invalidInput, "artifact must be an object");
    }
    const id = this.checkId(a.id === undefined ? randomUUID() : a.id);
    if (!(a.body instanceof Uint8Array)) {
      throw new WorkflowError(ErrorCodes.invalidInput, `artifact ${id}: body must be a Uint8Array`);
    }
    const { name, contentType, kind, metadata } = artifactFields(a, `artifact ${id}`);
    const bodyPath = path.join(this.root, id);
    const ref: ArtifactRef = {
      id,
      uri: pathToFileURL(bodyPath).href,
      name,
      kind,
      contentType,
      ...(metadata ? { metadata } : {}),
      size: a.body.byteLength,
    };

    try {
      await mkdir(this.root, { recursive: true });
      // Order matters: the sidecar goes into place before the body. `open` treats a
      // missing body as "not found", so until the body's rename nobody sees the
      // artifact at all, and once it is visible its ref is already there. A crash
      // in between leaves only an orphan sidecar, which the next put overwrites.
      await writeAtomically(bodyPath + REF_SUFFIX, JSON.stringify(ref, null, 2));
      await writeAtomically(bodyPath, a.body);
      await syncDir(this.root);
    } catch (err) {
      throw storeError(`cannot store artifact ${id}`, err);
    }
    return ref;
  }

  async open(id: string): Promise<{
    /** The body's bytes, streamed. */
    stream: NodeJS.ReadableStream;
    /** What the artifact is and where it lives. */
    ref: ArtifactRef;
  }> {
    const checked = this.checkId(id);
    const bodyPath = path.join(this.root, checked);
    for (let attempt = 1; ; attempt++) {
      // The body is opened before the sidecar is read: put renames the sidecar
      // first, so whatever body we hold, the sidecar we read is at least as new.
      // It can only be newer (a concurrent put of the same id between its two
      // renames); then the sizes disagree and we look again. The open handle keeps
      // reading the body we opened even if it is replaced meanwhile.
      let handle: FileHandle;
      try {
        handle = await openFile(bodyPath, fsConstants.O_RDONLY);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ENOENT") {
          throw new WorkflowError(ErrorCodes.notFound, `artifact ${checked} not found`, { cause: err });
        }
        throw storeError(`cannot open artifact ${checked}`, err);
      }
      try {
        const [stat, ref] = await Promise.all([handle.stat(), this.readRef(checked, bodyPath)]);
        if (stat.size !== ref.size && attempt < OPEN_ATTEMPTS) {
          await handle.close();
          continue;
        }
        if (stat.size !== ref.size) {
          throw new WorkflowError(ErrorCodes.storeError, `artifact ${checked}: body does not match its ref`, {
            retryable: true,
          });
        }
        // The stream closes the handle when it ends, errors or is destroyed.
        return { stream: handle.createReadStream(), ref };
      } catch (err) {
        await handle.close().catch(() => undefined);
        throw isWorkflowError(err) ? err : storeError(`cannot open artifact ${checked}`, err);
      }
    }
  }

  /** Removes artifacts (body, then ref); ids that do not exist are ignored. Returns how many were removed. */
  async delete(ids: readonly string[]): Promise<number> {
    const checked = ids.map((id) => this.checkId(id));
    let removed = 0;
    for (const id of checked) {
      const bodyPath = path.join(this.root, id);
      try {
        // The body first: `open` treats a missing body as "not found", so the artifact is gone at once.
        await rm(bodyPath);
        removed++;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw storeError(`cannot delete artifact ${id}`, err);
      }
      await rm(bodyPath + REF_SUFFIX, { force: true }).catch((err: unknown) => {
        throw storeError(`cannot delete the ref of artifact ${id}`, err);
      });
    }
    return removed;
  }

  private checkId(id: string): string {
    const checked = validateName(id, "artifact id");
    // Such an id would be another artifact's sidecar.
    if (checked.endsWith(REF_SUFFIX)) {
      throw new WorkflowError(ErrorCodes.invalidName, `artifact id ${JSON.stringify(id)} ends with "${REF_SUFFIX}"`, {
        details: { name: id, reason: `ends with "${REF_SUFFIX}"` },
      });
    }
    return checked;
  }

  private async readRef(id: string, bodyPath: string): Promise<ArtifactRef> {
    let parsed: unknown;
    try {
      parsed = JSON.parse(await readFile(bodyPath + REF_SUFFIX, "utf8"));
    } catch (err) {
      throw storeError(`artifact ${id}: cannot read its ref`, err);
    }
    if (parsed === null || typeof parsed !== "object" || typeof (parsed as ArtifactRef).size !== "number") {
      throw new WorkflowError(ErrorCodes.storeError, `artifact ${id}: its ref is malformed`);
    }
    // Id and URI describe where the body is now, even if the root was moved since.
    return { ...(parsed as ArtifactRef), id, uri: pathToFileURL(bodyPath).href };
  }
}

/**
 * Writes `data` to a fresh temporary file next to `target`, flushes it and renames
 * it over `target`. Rename within one directory is atomic, so readers see the old
 * file or the new one, never a torn one; the flush makes sure the renamed file is
 * not empty after a power loss.
 */
async function writeAtomically(target: string, data: Uint8Array | string): Promise<void> {
  const tmp = `${target}.${randomUUID()}.tmp`;
  try {
    const handle = await openFile(tmp, "wx", 0o644);
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, target);
  } catch (err) {
    await rm(tmp, { force: true }).catch(() => undefined);
    throw err;
  }
}

/** Makes the renames durable. Windows cannot open a directory for syncing; skip it there. */
async function syncDir(dir: string): Promise<void> {
  if (process.platform === "win32") return;
  const handle = await openFile(dir, fsConstants.O_RDONLY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

function storeError(message: string, err: unknown): WorkflowError {
  const detail = err instanceof Error ? err.message : String(err);
  return new WorkflowError(ErrorCodes.storeError, `${message}: ${detail}`, { cause: err });
}
