/**
 * The entry commitment and its field encoding moved to src/audit/commitment.ts; this
 * re-export remains only for src/node/protocol/checkpoint.ts until the node protocol
 * moves to src/protocol/node (then import src/audit/commitment.ts and delete this file).
 */
export * from "../audit/commitment.js";
