/**
 * did:web resolution (https://w3c-ccg.github.io/did-method-web/): did:web:example.com →
 * https://example.com/.well-known/did.json; did:web:example.com:u:alice →
 * https://example.com/u/alice/did.json; "%3A" encodes a port. Written here rather than
 * taken from web-did-resolver because that package cannot be given a CA, a timeout or a
 * size limit: this one takes an extra trusted CA (private PKI; tests use a self-signed
 * certificate on loopback), never disables certificate checks, gives up after
 * `timeoutMs` and reads at most `maxBytes`. The document's id must equal the DID.
 */
import { request } from "node:https";
import type { DIDResolutionResult, DIDResolver } from "did-resolver";

export interface WebDidOptions {
  /** Extra CA certificates (PEM) trusted besides the system's. */
  ca?: string;
  timeoutMs?: number;
  maxBytes?: number;
}

export function didWebUrl(did: string): URL | undefined {
  const m = /^did:web:([^:/?#]+)((?::[^:/?#]+)*)$/.exec(did);
  const [, rawHost, rawPath] = m ?? [];
  // Both groups always take part in a match (the second may be empty).
  if (rawHost === undefined || rawPath === undefined) return undefined;
  try {
    const host = decodeURIComponent(rawHost);
    if (!/^[A-Za-z0-9.-]+(:\d{1,5})?$/.test(host)) return undefined;
    const path = rawPath
      .split(":")
      .filter(Boolean)
      .map((seg) => encodeURIComponent(decodeURIComponent(seg)));
    return new URL(
      path.length
        ? `https://${host}/${path.join("/")}/did.json`
        : `https://${host}/.well-known/did.json`,
    );
  } catch {
    return undefined;
  }
}

function fetchJson(url: URL, opts: Required<Omit<WebDidOptions, "ca">> & { ca?: string }) {
  return new Promise<unknown>((resolve, reject) => {
    const req = request(
      url,
      {
        method: "GET",
        headers: { accept: "application/did+json, application/json" },
        timeout: opts.timeoutMs,
        ...(opts.ca ? { ca: opts.ca } : {}),
      },
      (res) => {
        if (res.statusCode !== 200) {
          res.resume();
          reject(new Error(`HTTP ${res.statusCode}`));
          return;
        }
        let size = 0;
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => {
          size += c.length;
          if (size > opts.maxBytes) {
            req.destroy(new Error("document too large"));
            return;
          }
          chunks.push(c);
        });
        res.on("end", () => {
          try {
            resolve(JSON.parse(Buffer.concat(chunks).toString("utf8")));
          } catch {
            reject(new Error("not JSON"));
          }
        });
        res.on("error", reject);
      },
    );
    // Bounds the whole exchange, not only idle time.
    const timer = setTimeout(() => req.destroy(new Error("timeout")), opts.timeoutMs);
    req.on("close", () => clearTimeout(timer));
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", reject);
    req.end();
  });
}

export function createWebDidResolver(options: WebDidOptions = {}): Record<string, DIDResolver> {
  const opts = {
    timeoutMs: options.timeoutMs ?? 3000,
    maxBytes: options.maxBytes ?? 100_000,
    ...(options.ca ? { ca: options.ca } : {}),
  };
  const fail = (message: string): DIDResolutionResult => ({
    didDocument: null,
    didDocumentMetadata: {},
    didResolutionMetadata: { error: "notFound", message },
  });
  const web: DIDResolver = async (did) => {
    const url = didWebUrl(did);
    if (!url)
      return { ...fail("not a did:web DID"), didResolutionMetadata: { error: "invalidDid" } };
    let doc: unknown;
    try {
      doc = await fetchJson(url, opts);
    } catch (err) {
      return fail(`did:web document unavailable: ${(err as Error).message}`);
    }
    if (typeof doc !== "object" || doc === null || (doc as { id?: unknown }).id !== did)
      return fail("the did:web document's id is not the DID");
    return {
      didDocument: doc as DIDResolutionResult["didDocument"],
      didDocumentMetadata: {},
      didResolutionMetadata: { contentType: "application/did+json" },
    };
  };
  return { web };
}

/** Fetches and returns the did:web document of `did`, or throws with the reason. */
export async function resolveDidWeb(did: string, options: WebDidOptions = {}): Promise<unknown> {
  const web = createWebDidResolver(options).web as (did: string) => Promise<DIDResolutionResult>;
  const out = await web(did);
  if (!out.didDocument) throw new Error(out.didResolutionMetadata.message ?? "did:web unresolved");
  return out.didDocument;
}
