/**
 * Which signer backend serves an agent, by name (HashiCorp Vault's factory pattern,
 * src/signers/backend.ts). "local" is always there; a Lit backend exists only when it is
 * configured (src/config/lit.ts), and its module is imported the first time an agent of
 * that kind is created or signs, never at start: the Lit SDKs weigh seconds and ~140 MB,
 * and the local default must start as fast and as light as before (issue 10, "Required" 1;
 * test/signers/no-lit-at-start.test.ts checks that no @lit-protocol package is loaded).
 *
 * The Lit modules export `createLitV7Backend(config)` and `chipotleBackendFor(config)`
 * (over `createChipotleBackend`); each receives its own configuration and the operator's
 * admin-authority public key, which the pinned Lit Action embeds
 * (src/signers/lit/action/index.ts, `actionCode`).
 */
import type { ChipotleConfig, LitV7Config } from "../config/lit.js";
import { VaultError } from "../errors/index.js";
import type { BackendName, SignerBackend } from "./backend.js";

/** What a Lit backend factory receives. */
export interface LitBackendDeps {
  /** The admin authority's public key, base64 SPKI DER (src/auth/admin-authority.ts). */
  authorityPublicKey: string;
  log?: (line: string) => void;
}

export type BackendLoader = () => Promise<SignerBackend>;

export interface BackendRegistry {
  readonly defaultBackend: BackendName;
  /** Whether the backend can serve agents here (configured at start). */
  configured(name: BackendName): boolean;
  /** The backend, loading its module on first use; BACKEND_NOT_CONFIGURED otherwise. */
  get(name: BackendName): Promise<SignerBackend>;
  /** Closes the backends that were loaded. */
  close(): Promise<void>;
}

/**
 * The default loaders: each imports its backend's module (and the pinned action's) on first
 * use, with a dynamic import that nothing at start reaches.
 */
export function litLoaders(
  config: { litV7?: LitV7Config; chipotle?: ChipotleConfig },
  deps: () => LitBackendDeps,
): Partial<Record<BackendName, BackendLoader>> {
  const { litV7, chipotle } = config;
  return {
    ...(litV7
      ? {
          "lit-v7": async () => {
            const { createLitV7Backend } = await import("./lit/v7/index.js");
            return createLitV7Backend({ ...litV7, authorityKey: deps().authorityPublicKey });
          },
        }
      : {}),
    ...(chipotle
      ? {
          "lit-chipotle": async () => {
            const { chipotleBackendFor } = await import("./lit/chipotle/index.js");
            return chipotleBackendFor({ ...chipotle, ...deps() });
          },
        }
      : {}),
  };
}

export function createBackendRegistry(opts: {
  local: SignerBackend;
  defaultBackend: BackendName;
  loaders: Partial<Record<BackendName, BackendLoader>>;
}): BackendRegistry {
  const loading = new Map<BackendName, Promise<SignerBackend>>();
  const configured = (name: BackendName) => name === "local" || opts.loaders[name] !== undefined;
  if (!configured(opts.defaultBackend)) {
    throw new Error(`the default backend ${opts.defaultBackend} is not configured`);
  }
  return {
    defaultBackend: opts.defaultBackend,
    configured,
    get(name) {
      if (name === "local") return Promise.resolve(opts.local);
      const load = opts.loaders[name];
      if (!load) {
        return Promise.reject(
          new VaultError("BACKEND_NOT_CONFIGURED", `the ${name} backend is not configured here`, {
            backend: name,
          }),
        );
      }
      let p = loading.get(name);
      if (!p) {
        p = load();
        loading.set(name, p);
        // A failed load (bad module, SDK error) is tried again by the next request.
        p.catch(() => loading.delete(name));
      }
      return p;
    },
    async close() {
      const loaded = await Promise.allSettled(loading.values());
      for (const r of loaded) if (r.status === "fulfilled") await r.value.close?.();
    },
  };
}
