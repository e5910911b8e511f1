/**
 * The kind of an artifact when none is given: the content type's major part
 * (`text/markdown` → `text`), else the name's extension (`report.pdf` → `pdf`),
 * else `artifact`.
 */
export function inferArtifactKind(name: string, contentType: string): string {
  const slash = contentType.indexOf("/");
  if (slash > 0) return contentType.slice(0, slash);
  const dot = name.lastIndexOf(".");
  if (dot >= 0 && dot < name.length - 1) return name.slice(dot + 1);
  return "artifact";
}
