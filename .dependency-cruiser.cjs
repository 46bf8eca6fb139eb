// Layering rules for src/, checked by `npm run lint` (depcruise) and by test/lint/layers.test.ts.
// Dependencies flow inward: http, cli → services → domain → store. Every rule carries a
// one-line reason in `comment`; depcruise prints the rule name with each offending edge.
// Type-only imports count (tsPreCompilationDeps): a type from a service is still a dependency.

/** Domain folders: no web framework, no composition root, no front door. */
const DOMAIN =
  "^src/(policy|audit|auth|zk|signers|transport|x402|store|config|errors|protocol|util)/";
/**
 * Value modules: a domain's types, and the one codec for spends (shared by vault and nodes).
 * The store may import them and nothing else of the domain, to return values, not rows.
 */
const VALUE_MODULES = "^src/[^/]+/types\\.ts$|^src/policy/spends\\.ts$";
const FASTIFY = "(^|/)node_modules/(fastify|fastify-plugin|@fastify/[^/]+)/";

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: "no-circular",
      comment: "A cycle makes load order and layering meaningless; break it with a smaller module.",
      severity: "error",
      from: { path: "^src/", pathNot: "^src/node/" },
      to: { circular: true },
    },
    {
      name: "no-circular-in-node",
      comment: "The same rule inside src/node.",
      severity: "error",
      from: { path: "^src/node/" },
      to: { circular: true },
    },
    {
      name: "services-not-front-doors",
      comment: "Services are what http and cli call; they never reach back into a front end.",
      severity: "error",
      from: { path: "^src/services/" },
      to: { path: "^src/(http|cli)/" },
    },
    {
      name: "domain-not-fastify",
      comment: "Domain code stays framework-free so it runs in nodes, the CLI and tests alike.",
      severity: "error",
      from: { path: DOMAIN },
      to: { path: FASTIFY },
    },
    {
      name: "domain-not-outer-layers",
      comment:
        "Domain code never imports http, cli or services: they depend on it, not the reverse.",
      severity: "error",
      from: { path: DOMAIN },
      to: { path: "^src/(http|cli|services)/" },
    },
    {
      name: "policy-is-pure",
      comment: "The policy evaluator is pure and synchronous: no I/O, no database, no store.",
      severity: "error",
      from: { path: "^src/policy/" },
      to: {
        path: [
          "^(node:)?(fs|fs/promises|net|http|https|http2|dgram|dns|child_process|worker_threads|cluster|tls)$",
          "(^|/)node_modules/better-sqlite3/",
          "^src/(store|audit|auth|zk|signers|transport|x402|node|protocol)/",
        ],
      },
    },
    {
      name: "store-imports-only-values",
      comment:
        "The store is the innermost layer: it hands out domain values (VALUE_MODULES) but knows no domain behaviour.",
      severity: "error",
      from: { path: "^src/store/" },
      to: { path: "^src/(?!store/)[^/]+/", pathNot: VALUE_MODULES },
    },
    {
      name: "values-are-leaves",
      comment:
        "A value module (types and their one codec) imports only other value modules, so the store stays innermost.",
      severity: "error",
      from: { path: VALUE_MODULES },
      to: { path: "^src/", pathNot: VALUE_MODULES },
    },
    {
      name: "util-is-a-leaf",
      comment: "Shared helpers must not pull any layer in behind them.",
      severity: "error",
      from: { path: "^src/util/" },
      to: { path: "^src/(?!util/)" },
    },
    {
      name: "facilitator-stands-alone",
      comment: "src/x402 is a separate facilitator process: it shares no vault code but errors.",
      severity: "error",
      from: { path: "^src/x402/" },
      to: { path: "^src/(?!x402/|errors/|util/)" },
    },
    {
      name: "node-only-from-its-entry",
      comment:
        "The signer node is a separate process: only its entry (the cli) may import it; the vault meets it in src/protocol/node.",
      severity: "error",
      from: { path: "^src/", pathNot: "^src/(node|cli)/" },
      to: { path: "^src/node/" },
    },
    {
      name: "node-not-signers",
      comment: "Nodes share only src/protocol with the vault's signer client, never its code.",
      severity: "error",
      from: { path: "^src/node/" },
      to: { path: "^src/signers/" },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: {
      exportsFields: ["exports"],
      conditionNames: ["import", "require", "node", "default", "types"],
      extensions: [".ts", ".js", ".cjs", ".mjs", ".d.ts", ".json"],
    },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
