/** What a step hands to an {@link ArtifactStore} to store. */
export interface ArtifactObject {
  /** Stable id; becomes the file name, so it is validated like any name. Generated when absent. */
  id?: string;
  /** Human-readable name (e.g. `report.md`); also used to infer `kind`. */
  name: string;
  /** Free-form category; inferred from `contentType` or `name` when absent or empty. */
  kind?: string;
  /** MIME type of `body`. */
  contentType: string;
  /** String key/values kept with the artifact. */
  metadata?: Record<string, string>;
  /** The bytes to store. */
  body: Uint8Array;
}

/** Where a stored artifact lives and what it is; serializable as JSON. */
export interface ArtifactRef {
  /** Unique within its run (inline) or its artifact store (stored). */
  id: string;
  /** Absolute URI of the stored body (for `FileArtifactStore`, a `file://` URL). */
  uri: string;
  /** Human-readable name, e.g. `report.md`. */
  name: string;
  /** Free-form category, given or inferred from `contentType` or `name`. */
  kind: string;
  /** MIME type of the body. */
  contentType: string;
  /** Omitted when there is none. */
  metadata?: Record<string, string>;
  /** Byte length of the body. */
  size: number;
}

/** Storage for artifact bodies too large (or too external) to keep in the workflow store. */
export interface ArtifactStore {
  /** Stores `a`, replacing any artifact with the same id, and returns its ref. */
  put(a: ArtifactObject): Promise<ArtifactRef>;
  /** Opens a stored artifact; rejects with `not_found` for an unknown id. */
  open(id: string): Promise<{
    /** The body's bytes, streamed. */
    stream: NodeJS.ReadableStream;
    /** What the artifact is and where it lives. */
    ref: ArtifactRef;
  }>;
  /**
   * Removes artifacts; ids it does not have are ignored. Resolves to how many it
   * removed. Optional: a store without it keeps every body it was given.
   */
  delete?(ids: readonly string[]): Promise<number>;
}
