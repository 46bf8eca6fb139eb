/**
 * The checks a node makes on the operator's behalf, shared by key generation
 * (dkg.ts) and policy changes (admin.ts): the admin key's Ed25519 authorization
 * (src/auth/admin-authority.ts) and the policy's validity. Kept apart so that those
 * two modules do not import each other.
 */
import { type AdminAction, isAuthorized } from "../../auth/admin-authority.js";
import { validatePolicy } from "../../policy/validate.js";
import { type NodeContext, NodeRefusal } from "./context.js";

export function requireAdmin(node: NodeContext, action: AdminAction, authorization: unknown): void {
  if (!isAuthorized(node.cluster().adminPublicKey, action, authorization)) {
    throw new NodeRefusal(
      "ADMIN_REQUIRED",
      "the operator's admin authorization is missing or invalid",
    );
  }
}

/** A node validates every policy itself; an invalid one is a refusal, not an error. */
export function checkedPolicy(input: unknown) {
  try {
    return validatePolicy(input);
  } catch (err) {
    throw new NodeRefusal("BAD_POLICY", (err as Error).message);
  }
}
