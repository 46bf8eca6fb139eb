/**
 * What a priced route asks for: the x402 v2 PaymentRequirements built from the operator's
 * price configuration ("exact" scheme, EIP-3009 token on an eip155 network), and the
 * Bazaar discovery extension that lets marketplaces list the route.
 */
import type { PaymentRequired, PaymentRequirements } from "@x402/core/types";
import { getDefaultAsset } from "@x402/evm";
import { declareDiscoveryExtension } from "@x402/extensions/bazaar";
import { getAddress, parseUnits } from "ethers";
import type { X402Price } from "../../config/x402.js";

export const X402_VERSION = 2;
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
export function buildOffer(route: string, price: X402Price): RouteOffer {
  const [method = "GET", path = "/"] = route.split(" ");
  const known = price.asset ? undefined : safeDefaultAsset(price.network);
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
  const discovery = QUERY_METHODS.has(method)
    ? declareDiscoveryExtension({ input: {}, output: { example: {} } })
    : declareDiscoveryExtension({ input: {}, bodyType: "json", output: { example: {} } });
  // The extension fills the method in per request; the route's method is fixed, so set it.
  const bazaar = discovery.bazaar as unknown as { info: { input: Record<string, unknown> } };
  bazaar.info.input.method = method;
  return { route, method, path, description, requirements, extensions: { ...discovery } };
}

function safeDefaultAsset(network: string) {
  try {
    return getDefaultAsset(network as PaymentRequirements["network"]);
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
    extensions: offer.extensions,
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
