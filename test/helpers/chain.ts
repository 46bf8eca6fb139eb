/**
 * A local EVM chain for the x402 tests: ganache in this process on 127.0.0.1, and the
 * EIP-3009 test token (test/fixtures/x402/TestUSDC.sol) compiled with solc and deployed.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { Contract, ContractFactory, JsonRpcProvider, Wallet } from "ethers";
import ganache from "ganache";
import solc from "solc";
import { CLI, freePort } from "./process.js";

export const CHAIN_ID = 1337;
export const TOKEN_NAME = "USD Coin";
export const TOKEN_VERSION = "2";
/** Well-known test keys: the deployer/minter and the facilitator's gas wallet. */
export const DEPLOYER_KEY = `0x${"11".repeat(32)}`;
export const FACILITATOR_KEY = `0x${"22".repeat(32)}`;

export interface LocalChain {
  rpcUrl: string;
  token: Contract;
  tokenAddress: string;
  provider: JsonRpcProvider;
  balanceOf(address: string): Promise<bigint>;
  stop(): Promise<void>;
}

interface Compiled {
  abi: unknown[];
  bytecode: string;
  deployedBytecode: string;
}

/** Compiles the test fixtures with solc (about 2 s). */
export function compileFixtures(): { token: Compiled; multicall: Compiled } {
  const read = (f: string) => readFileSync(join("test", "fixtures", "x402", f), "utf8");
  const input = {
    language: "Solidity",
    sources: {
      "TestUSDC.sol": { content: read("TestUSDC.sol") },
      "TestMulticall.sol": { content: read("TestMulticall.sol") },
    },
    settings: {
      evmVersion: "paris",
      optimizer: { enabled: true, runs: 200 },
      outputSelection: {
        "*": { "*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"] },
      },
    },
  };
  type Out = {
    abi: unknown[];
    evm: { bytecode: { object: string }; deployedBytecode: { object: string } };
  };
  const out = JSON.parse(solc.compile(JSON.stringify(input))) as {
    errors?: Array<{ severity: string; formattedMessage: string }>;
    contracts: Record<string, Record<string, Out>>;
  };
  const errors = (out.errors ?? []).filter((e) => e.severity === "error");
  if (errors.length > 0) throw new Error(errors.map((e) => e.formattedMessage).join("\n"));
  const pick = (file: string, name: string): Compiled => {
    const c = out.contracts[file]?.[name];
    if (!c) throw new Error(`${name} did not compile`);
    return {
      abi: c.abi,
      bytecode: `0x${c.evm.bytecode.object}`,
      deployedBytecode: `0x${c.evm.deployedBytecode.object}`,
    };
  };
  return {
    token: pick("TestUSDC.sol", "TestUSDC"),
    multicall: pick("TestMulticall.sol", "TestMulticall"),
  };
}

export const MULTICALL3_ADDRESS = "0xcA11bde05977b3631167028862bE2a173976CA11";

export async function startLocalChain(): Promise<LocalChain> {
  const port = await freePort();
  const server = ganache.server({
    chain: { chainId: CHAIN_ID, hardfork: "shanghai" },
    wallet: {
      accounts: [DEPLOYER_KEY, FACILITATOR_KEY].map((secretKey) => ({
        secretKey,
        balance: `0x${(10n ** 21n).toString(16)}`,
      })),
    },
    logging: { quiet: true },
    miner: { instamine: "eager" },
  });
  await server.listen(port, "127.0.0.1");
  const rpcUrl = `http://127.0.0.1:${port}`;
  const provider = new JsonRpcProvider(rpcUrl, CHAIN_ID, { staticNetwork: true, cacheTimeout: -1 });
  const deployer = new Wallet(DEPLOYER_KEY, provider);
  const { token: compiled, multicall } = compileFixtures();
  await provider.send("evm_setAccountCode", [MULTICALL3_ADDRESS, multicall.deployedBytecode]);
  const { abi, bytecode } = compiled;
  const factory = new ContractFactory(abi as never, bytecode, deployer);
  const deployed = await factory.deploy(TOKEN_NAME, TOKEN_VERSION);
  await deployed.waitForDeployment();
  const tokenAddress = (await deployed.getAddress()).toLowerCase();
  const token = new Contract(tokenAddress, abi as never, deployer);
  return {
    rpcUrl,
    token,
    tokenAddress,
    provider,
    balanceOf: async (address) => (await token.getFunction("balanceOf")(address)) as bigint,
    async stop() {
      provider.destroy();
      await server.close();
    },
  };
}

/**
 * `agent-vault facilitator` as its own OS process against `rpcUrl`, its key in the
 * environment; resolves with the URL it prints once listening. Each output line goes to
 * `onLine` (the demo shows them).
 */
export async function startFacilitatorProcess(
  rpcUrl: string,
  port = 0,
  onLine: (line: string) => void = () => {},
): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(
    process.execPath,
    [...CLI, "facilitator", "--rpc", rpcUrl, "--port", `${port}`],
    {
      stdio: ["ignore", "pipe", "inherit"],
      env: { ...process.env, FACILITATOR_KEY },
    },
  );
  const url = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on("line", (line) => {
      onLine(line);
      const m = /listening on (\S+)/.exec(line);
      if (m?.[1]) resolve(m[1]);
    });
    child.once("exit", (code) => reject(new Error(`facilitator exited (${code})`)));
  });
  return { child, url };
}

/** A VAULT_X402_PRICES entry for the local test token (6 decimals, its EIP-712 domain). */
export function localTokenPrice(
  tokenAddress: string,
  payTo: string,
  price: string,
  description: string,
) {
  return {
    price,
    network: `eip155:${CHAIN_ID}`,
    payTo,
    asset: tokenAddress,
    assetName: TOKEN_NAME,
    assetVersion: TOKEN_VERSION,
    decimals: 6,
    description,
  };
}
