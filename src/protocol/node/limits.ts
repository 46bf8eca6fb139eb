/**
 * Limits a signer node applies that its operator may set (`agent-vault node
 * --warm-presigs`, or VAULT_NODE_WARM_PRESIGS for the embedded nodes).
 *
 * A deserialised presignature costs about 170 KB of a node's memory (measured) and saves
 * its online step a 12 ms restore (the largest share of a node's CPU per signature when
 * it is cold); 256 covers, for example, 32 agents at the default pool of 8.
 */
export const DEFAULT_WARM_PRESIGS = 256;
