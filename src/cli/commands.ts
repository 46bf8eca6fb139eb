/**
 * Subcommand dispatch for `agent-vault`. Long-running commands (start, node) resolve
 * to undefined and keep the process alive; the others return an exit code.
 */
import { parseArgs } from "node:util";
import { runNode } from "../node/main.js";
import { auditCommand } from "./audit.js";
import { agentCommand, keyCommand, signCommand } from "./client.js";
import { startCommand } from "./start.js";
import { didCommand, vcCommand } from "./vc.js";
import { facilitatorCommand, x402Command } from "./x402.js";
import { exportVerifierCommand, proveBundleCommand, verifyBundleCommand } from "./zk.js";

type Command = (args: string[]) => Promise<number | undefined>;

const USAGE = `usage: agent-vault <command>
  start                         serve the vault with its embedded signer cluster
  node --index=I --port=P --data-dir=D --vault-key=K [--host=H]
                                run one signer node
  agent create <name> [--policy=file.json] | agent list
  key create <agentId> --scopes=READ,EXECUTE,SPEND | key revoke <keyId>
  sign <agentId> --message=TEXT | --typed-data=file.json | --tx=file.json   (uses VAULT_API_KEY)
  audit verify [--data-dir=D] | audit export [--data-dir=D]
  prove-bundle <agentId> --from=S --to=T [--asset=A] [--bound=B] [--out=bundle.json]
                                ask the vault for a zero-knowledge compliance bundle
  verify-bundle <bundle.json> [--cluster-address=0x…] [--vkey=verification_key.json]
                                check a compliance bundle without trusting the vault
  export-verifier [--out=ComplianceVerifier.sol] [--zkey=final.zkey]
                                write the Solidity verifier of the compliance circuit
  x402 fetch <url> --agent <id> [--method M] [--data JSON] [--wait S]
                                pay for a URL with the agent's vault wallet (x402)
  facilitator --rpc <url> [--port P] [--host H]   (key: FACILITATOR_KEY / _FILE)
                                run a local x402 facilitator against one EVM chain
  did create --out <file>       a did:key for an agent or a credential issuer (0600 file)
  vc issue --issuer <file> --subject <did> --agent <id> --capabilities read,execute
           [--operator O] [--spend-limit ETH=0.005] [--human H] [--ttl S]
                                an AgentAuthorization credential (JWT VC) on stdout
  vc present --holder <file> --credential <file>… [--audience A]
                                a presentation over a fresh challenge (X-Agent-Presentation)
client commands talk to VAULT_URL (default http://127.0.0.1:8080) with VAULT_ADMIN_KEY or VAULT_API_KEY`;

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
    },
  });
  if (values.index === undefined || !values["data-dir"] || !values["vault-key"]) {
    throw new Error("node needs --index, --data-dir and --vault-key");
  }
  await runNode({
    index: Number(values.index),
    host: values.host as string,
    port: Number(values.port),
    dataDir: values["data-dir"],
    vaultKey: values["vault-key"],
    supervised: values.supervised === true,
  });
  return undefined;
}

const COMMANDS: Record<string, Command> = {
  start: startCommand,
  node: nodeCommand,
  agent: agentCommand,
  key: keyCommand,
  sign: signCommand,
  audit: auditCommand,
  x402: x402Command,
  facilitator: facilitatorCommand,
  did: didCommand,
  vc: vcCommand,
  "prove-bundle": proveBundleCommand,
  "verify-bundle": verifyBundleCommand,
  "export-verifier": exportVerifierCommand,
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
