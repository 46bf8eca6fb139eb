/** DIDs for tests: did:key (Ed25519), did:pkh (eip155), did:web served over HTTPS on loopback. */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EdDSASigner, ES256KSigner, hexToBytes } from "did-jwt";
import { Wallet } from "ethers";
import {
  createDidKey,
  type DidSigner,
  didKeySigner,
  issueAgentAuthorization,
  presentCredentials,
} from "../../src/auth/vc/toolkit.js";

export type TestDid = DidSigner;

export function didKey(): TestDid {
  return didKeySigner(createDidKey());
}

export function didPkh(): TestDid & { address: string } {
  const w = Wallet.createRandom();
  return {
    did: `did:pkh:eip155:1:${w.address}`,
    signer: ES256KSigner(hexToBytes(w.privateKey), true),
    alg: "ES256K-R",
    address: w.address,
  };
}

/** A self-signed certificate for 127.0.0.1 (openssl), its PEM doubling as the CA to trust. */
export function selfSignedCert(): { key: string; cert: string } {
  const dir = mkdtempSync(join(tmpdir(), "av-tls-"));
  execFileSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-keyout",
      join(dir, "key.pem"),
      "-out",
      join(dir, "cert.pem"),
      "-days",
      "2",
      "-subj",
      "/CN=127.0.0.1",
      "-addext",
      "subjectAltName=IP:127.0.0.1",
    ],
    { stdio: "ignore" },
  );
  return {
    key: readFileSync(join(dir, "key.pem"), "utf8"),
    cert: readFileSync(join(dir, "cert.pem"), "utf8"),
  };
}

/** An HTTPS server on loopback serving did:web documents; `add()` makes a did:web DID. */
export async function didWebHost(tls: { key: string; cert: string }) {
  const docs = new Map<string, unknown>();
  const fetched: string[] = [];
  const server: Server = createServer(tls, (req, res) => {
    fetched.push(req.url ?? "");
    const doc = docs.get(req.url ?? "");
    res.statusCode = doc ? 200 : 404;
    res.setHeader("content-type", "application/json");
    res.end(JSON.stringify(doc ?? {}));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    /** Paths requested so far, in order. */
    fetched,
    add(name: string): TestDid {
      const k = createDidKey().privateKeyJwk;
      const did = `did:web:127.0.0.1%3A${port}:${name}`;
      const vm = `${did}#key-1`;
      docs.set(`/${name}/did.json`, {
        "@context": ["https://www.w3.org/ns/did/v1"],
        id: did,
        verificationMethod: [
          {
            id: vm,
            type: "JsonWebKey2020",
            controller: did,
            publicKeyJwk: { kty: k.kty, crv: k.crv, x: k.x },
          },
        ],
        authentication: [vm],
        assertionMethod: [vm],
      });
      return { did, signer: EdDSASigner(Buffer.from(k.d, "base64url")), alg: "EdDSA" };
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/** The toolkit's functions under the names the tests use. */
export const agentAuthorization = issueAgentAuthorization;
export const presentation = presentCredentials;
