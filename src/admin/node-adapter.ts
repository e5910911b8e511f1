/**
 * `admin.node(req, res)`: the Fetch-API handler behind a `node:http` listener,
 * so the page mounts in `http.createServer`, Express (`app.use("/admin",
 * admin.node)`: `req.originalUrl` keeps the prefix Express strips from
 * `req.url`) and Fastify (`reply.hijack()`, then `admin.node(req.raw, reply.raw)`).
 * Responses are streamed, which the live-update stream needs; a client that
 * goes away cancels the response body.
 */
import { once } from "node:events";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { TLSSocket } from "node:tls";
import { MAX_FORM_BYTES } from "./actions.js";

/** The request as an Express-style router leaves it: `originalUrl` is the full path. */
type NodeRequest = IncomingMessage & { originalUrl?: string };

class TooLarge extends Error {}

async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new TooLarge();
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

function toRequest(req: NodeRequest, body: Buffer | undefined, signal: AbortSignal): Request {
  const protocol = (req.socket as TLSSocket).encrypted ? "https" : "http";
  const url = new URL(req.originalUrl ?? req.url ?? "/", `${protocol}://${req.headers.host ?? "localhost"}`);
  const headers = new Headers();
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) headers.append(req.rawHeaders[i] as string, req.rawHeaders[i + 1] as string);
  return new Request(url, { method: req.method ?? "GET", headers, signal, ...(body ? { body } : {}) });
}

async function writeResponse(response: Response, res: ServerResponse): Promise<void> {
  const headers: Record<string, string | string[]> = {};
  response.headers.forEach((value, name) => {
    if (name !== "set-cookie") headers[name] = value;
  });
  const cookies = response.headers.getSetCookie();
  if (cookies.length) headers["set-cookie"] = cookies;
  res.writeHead(response.status, headers);
  if (!response.body) {
    res.end();
    return;
  }
  const reader = response.body.getReader();
  res.once("close", () => void reader.cancel().catch(() => undefined));
  for (;;) {
    const { done, value } = await reader.read();
    if (done || res.destroyed) break;
    if (!res.write(value)) await Promise.race([once(res, "drain"), once(res, "close")]);
    // Streams (server-sent events) must reach the client now, not when a buffer fills.
    (res as { flush?: () => void }).flush?.();
  }
  res.end();
}

/** Wraps a Fetch-API handler as a `node:http` request listener. */
export function toNodeListener(handle: (request: Request) => Promise<Response>): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const gone = new AbortController();
    res.once("close", () => gone.abort());
    (async () => {
      const hasBody = req.method !== "GET" && req.method !== "HEAD";
      let body: Buffer | undefined;
      try {
        body = hasBody ? await readBody(req, MAX_FORM_BYTES) : undefined;
      } catch (err) {
        if (!(err instanceof TooLarge)) throw err;
        res.writeHead(413, { "content-type": "text/plain; charset=utf-8", connection: "close" }).end("request body too large\n");
        return;
      }
      await writeResponse(await handle(toRequest(req as NodeRequest, body, gone.signal)), res);
    })().catch(() => {
      // The handler answers every error itself; what lands here is a socket that broke mid-response.
      if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain; charset=utf-8" }).end("internal error\n");
      else res.destroy();
    });
  };
}
