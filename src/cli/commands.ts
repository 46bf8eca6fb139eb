/**
 * Subcommand dispatch for `agent-vault`. Long-running commands (start, node) resolve
 * to undefined and keep the process alive; the others return an exit code.
 *
 * Each command's module is imported only when that command runs: a signer node then
 * loads the node's code alone, not the vault, viem, x402 or snarkjs (a node process
 * starts in about a third of the CPU time; the vault spawns one per node, and restarts
 * them).
 */
import { parseArgs } from "node:util";

type Command = (args: string[]) => Promise<number | undefined>;

const USAGE = `usage: agent-vault <command>
  start                         serve the vault with its embedded signer cluster
  node --index=I --port=P --data-dir=D --vault-key=K [--host=H] [--warm-presigs=N]
                                run one signer node
  identity [--data-dir=D]       print the vault's public key for --vault-key (made if missing)
  agent create <name> [--policy=file.json] | agent list
  key create <agentId> --scopes=READ,EXECUTE,SPEND | key revoke <keyId>
  sign <agentId> --message=TEXT | --typed-data=file.json | --tx=file.json   (uses VAULT_API_KEY)
  audit verify [--data-dir=D] | audit export [--data-dir=D]
  db status | db migrate [--url=sqlite:<file>|postgres://…] [--data-dir=D]
                                the storage seam's schema versions: show them, apply what is pending
  db copy --from=sqlite:<file> --to=postgres://…
                                move a stopped vault to PostgreSQL; verifies the audit chain there
  prove-bundle <agentId> --from=S --to=T [--asset=A] [--bound=B] [--out=bundle.json]
                                ask the vault for a zero-knowledge compliance bundle
  verify-bundle <bundle.json> [--cluster-address=0x…] [--vkey=verification_key.json]
                [--trust-vkey=<sha256>]… [--zkey=final.zkey --trust-contribution=<hash>…]
                                check a compliance bundle without trusting the vault; exit 0
                                only when its key is one you trust, 3 when it verifies otherwise
  zk contribute | verify-setup | install
                                the Groth16 phase-2 ceremony with auditors (agent-vault zk help)
  export-verifier [--out=ComplianceVerifier.sol] [--zkey=final.zkey]
                                write the Solidity verifier of the compliance circuit
  x402 fetch <url> --agent <id> [--method M] [--data JSON] [--wait S]
                                pay for a URL with the agent's vault wallet (x402)
  facilitator --rpc <url> [--port P] [--host H]   (key: FACILITATOR_KEY / _FILE)
                                run a local x402 facilitator against one EVM chain
  did create --out <file>       a did:key for an agent or a credential issuer (0600 file)
  delegation inspect <chain> | create --from <chain> --key <did file> --to <did>
           [--commands message,transaction] [--caps ETH=0.001/0.002] [--recipients …]
           [--chains …] [--task T] [--ttl S] | invoke --chain <chain> --key <did file>
           --path <route> [--body-file f.json]
                                UCAN delegation chains: read, narrow further, sign a request
  vc issue --issuer <file> --subject <did> --agent <id> --capabilities read,execute
           [--operator O] [--spend-limit ETH=0.005] [--human H] [--ttl S]
                                an AgentAuthorization credential (JWT VC) on stdout
  vc present --holder <file> --credential <file>… [--audience A]
                                a presentation over a fresh challenge (X-Agent-Presentation)
client commands talk to VAULT_URL (default http://127.0.0.1:8080) with VAULT_ADMIN_KEY or VAULT_API_KEY`;

function nonNegativeInt(text: string, flag: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`${flag} must be an integer >= 0`);
  return n;
}

async function nodeCommand(args: string[]): Promise<undefined> {
  const { values } = parseArgs({
    args,
    options: {
      index: { type: "string" },
      host: { type: "string", default: "127.0.0.1" },
      port: { type: "string", default: "0" },
      "data-dir": { type: "string" },
      "vault-key": { type: "string" },
      supervised: { type: "boolean", default: false },
      "warm-presigs": { type: "string" },
    },
  });
  if (values.index === undefined || !values["data-dir"] || !values["vault-key"]) {
    throw new Error("node needs --index, --data-dir and --vault-key");
  }
  const { runNode } = await import("../node/main.js");
  await runNode({
    index: Number(values.index),
    host: values.host as string,
    port: Number(values.port),
    dataDir: values["data-dir"],
    vaultKey: values["vault-key"],
    supervised: values.supervised === true,
    ...(values["warm-presigs"] === undefined
      ? {}
      : { warmPresigs: nonNegativeInt(values["warm-presigs"], "--warm-presigs") }),
  });
  return undefined;
}

/**
 * The vault's public signing key, which remote signer nodes take as --vault-key: lets a
 * deployment (docker-compose.yml) make the identity before any node or vault starts.
 */
async function identityCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { "data-dir": { type: "string" } } });
  const { loadClientConfig } = await import("../config/index.js");
  const { loadOrCreateIdentity } = await import("../transport/identity.js");
  const { join } = await import("node:path");
  const dir = values["data-dir"] ?? loadClientConfig().dataDir;
  const identity = loadOrCreateIdentity(join(dir, "vault-identity.json"));
  console.log(identity.publicIdentity.signingKey);
  return 0;
}

const COMMANDS: Record<string, Command> = {
  start: async () => (await import("./start.js")).startCommand(),
  node: nodeCommand,
  identity: identityCommand,
  agent: async (a) => (await import("./client.js")).agentCommand(a),
  key: async (a) => (await import("./client.js")).keyCommand(a),
  sign: async (a) => (await import("./client.js")).signCommand(a),
  audit: async (a) => (await import("./audit.js")).auditCommand(a),
  db: async (a) => (await import("./db.js")).dbCommand(a),
  x402: async (a) => (await import("./x402.js")).x402Command(a),
  facilitator: async (a) => (await import("./x402.js")).facilitatorCommand(a),
  did: async (a) => (await import("./vc.js")).didCommand(a),
  delegation: async (a) => (await import("./delegation.js")).delegationCommand(a),
  vc: async (a) => (await import("./vc.js")).vcCommand(a),
  "prove-bundle": async (a) => (await import("./zk.js")).proveBundleCommand(a),
  "verify-bundle": async (a) => (await import("./zk.js")).verifyBundleCommand(a),
  "export-verifier": async (a) => (await import("./zk.js")).exportVerifierCommand(a),
  zk: async (a) => (await import("./zk-setup.js")).zkCommand(a),
};

export async function runCli(argv: string[]): Promise<number | undefined> {
  const [name, ...rest] = argv;
  const command = name ? COMMANDS[name] : undefined;
  if (!command) {
    console.log(USAGE);
    return name && name !== "help" && name !== "--help" ? 2 : 0;
  }
  return command(rest);
}
