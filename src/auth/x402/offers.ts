/**
 * What a priced route asks for: the x402 v2 PaymentRequirements built from the operator's
 * price configuration ("exact" scheme, EIP-3009 token on an eip155 network), and the
 * Bazaar discovery extension that lets marketplaces list the route.
 *
 * A parametrised route (fastify's "/v1/agents/:id/credential") is one resource: its Bazaar
 * extension carries `routeTemplate` and, in each PAYMENT-REQUIRED, the request's
 * `pathParams`, as @x402/extensions' own server enrichment makes them, so that a facilitator
 * catalogues the template (extractDiscoveryInfo) instead of every agent's URL.
 */
import type { PaymentRequired, PaymentRequirements } from "@x402/core/types";
import { bazaarResourceServerExtension, declareDiscoveryExtension } from "@x402/extensions/bazaar";
import { getAddress, parseUnits } from "ethers";
import type { X402Price } from "../../config/x402.js";

export const X402_VERSION = 2;

/**
 * What the offers need from @x402/evm (its table of default USDC deployments). The
 * package pulls in viem (a quarter of a second to load), so a vault with no priced route
 * never loads it: createX402 imports it only when prices are configured.
 */
export type X402Evm = Pick<typeof import("@x402/evm"), "getDefaultAsset" | "authorizationTypes">;

export const loadX402Evm = (): Promise<X402Evm> => import("@x402/evm");

const QUERY_METHODS = new Set(["GET", "HEAD", "DELETE"]);

export interface RouteOffer {
  /** "GET /v1/cluster": the key in VAULT_X402_PRICES and the fastify route it prices. */
  route: string;
  method: string;
  path: string;
  description: string;
  requirements: PaymentRequirements;
  extensions: Record<string, unknown>;
}

/** Builds the offer for one configured route; throws (at start-up) on an unknown asset. */
export function buildOffer(
  route: string,
  price: X402Price,
  evm?: Pick<X402Evm, "getDefaultAsset">,
): RouteOffer {
  const [method = "GET", path = "/"] = route.split(" ");
  const known = price.asset || !evm ? undefined : safeDefaultAsset(evm, price.network);
  const asset = price.asset ?? known?.asset;
  const name = price.assetName ?? known?.name;
  const version = price.assetVersion ?? known?.version;
  const decimals = price.decimals ?? known?.decimals;
  if (!asset || !name || !version || decimals === undefined) {
    throw new Error(
      `x402 price for ${route}: ${price.network} has no known USDC; set asset, assetName, assetVersion and decimals`,
    );
  }
  const requirements: PaymentRequirements = {
    scheme: "exact",
    network: price.network as PaymentRequirements["network"],
    asset: getAddress(asset),
    amount: parseUnits(price.price, decimals).toString(),
    payTo: getAddress(price.payTo),
    maxTimeoutSeconds: price.maxTimeoutSeconds ?? 300,
    extra: { name, version },
  };
  const description = price.description ?? `${route} on agent-vault`;
  const params = pathParamNames(path);
  const pathParamsSchema = params.length
    ? {
        properties: Object.fromEntries(params.map((p) => [p, { type: "string" }])),
        required: params,
      }
    : undefined;
  const declared = declareDiscoveryExtension({
    input: {},
    ...(QUERY_METHODS.has(method) ? {} : { bodyType: "json" as const }),
    ...(pathParamsSchema ? { pathParamsSchema } : {}),
    output: { example: {} },
  });
  // The route's method is fixed: enrich once with it (the library adds it to info and schema).
  const bazaar = enrich(declared.bazaar, method) as Record<string, unknown>;
  const discovery = { bazaar: params.length ? { ...bazaar, routeTemplate: path } : bazaar };
  return { route, method, path, description, requirements, extensions: discovery };
}

const PATH_PARAM = /:([A-Za-z_][A-Za-z0-9_]*)/g;

function pathParamNames(path: string): string[] {
  // The name group always takes part in a match; flatMap keeps that a checked fact.
  return [...path.matchAll(PATH_PARAM)].flatMap((m) => (m[1] === undefined ? [] : [m[1]]));
}

/** @x402/extensions' server enrichment: method, and routeTemplate + pathParams for `path`. */
function enrich(declaration: unknown, method: string, route?: { pattern: string; path: string }) {
  const enrichDeclaration = bazaarResourceServerExtension.enrichDeclaration;
  if (!enrichDeclaration) throw new Error("@x402/extensions: the Bazaar cannot enrich");
  return enrichDeclaration(declaration, {
    method,
    adapter: { getPath: () => route?.path ?? "" },
    ...(route ? { routePattern: route.pattern } : {}),
  });
}

/** The extensions of one PAYMENT-REQUIRED: a parametrised route names this request's params. */
function extensionsFor(offer: RouteOffer, resourceUrl: string): Record<string, unknown> {
  if (!pathParamNames(offer.path).length) return offer.extensions;
  let path: string;
  try {
    path = new URL(resourceUrl).pathname;
  } catch {
    return offer.extensions;
  }
  const route = { pattern: offer.path, path };
  return { ...offer.extensions, bazaar: enrich(offer.extensions.bazaar, offer.method, route) };
}

function safeDefaultAsset(evm: Pick<X402Evm, "getDefaultAsset">, network: string) {
  try {
    return evm.getDefaultAsset(network as PaymentRequirements["network"]);
  } catch {
    return undefined;
  }
}

export function paymentRequiredFor(
  offer: RouteOffer,
  resourceUrl: string,
  error?: string,
): PaymentRequired {
  return {
    x402Version: X402_VERSION,
    ...(error ? { error } : {}),
    resource: {
      url: resourceUrl,
      description: offer.description,
      mimeType: "application/json",
      serviceName: "agent-vault",
    },
    accepts: [offer.requirements],
    extensions: extensionsFor(offer, resourceUrl),
  };
}

/** The Bazaar listing of every paid route (the shape of a facilitator's /discovery/resources). */
export function discoveryListing(offers: RouteOffer[], baseUrl: string, at = new Date()) {
  const items = offers.map((o) => ({
    resource: `${baseUrl}${o.path}`,
    type: "http",
    x402Version: X402_VERSION,
    accepts: [o.requirements],
    lastUpdated: at.toISOString(),
    description: o.description,
    mimeType: "application/json",
    serviceName: "agent-vault",
    extensions: o.extensions,
  }));
  return {
    x402Version: X402_VERSION,
    items,
    pagination: { limit: items.length, offset: 0, total: items.length },
  };
}
