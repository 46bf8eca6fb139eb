# syntax=docker/dockerfile:1
# Multi-stage build: compile with the dev toolchain, ship only production dependencies.

FROM node:20-bookworm-slim AS build
WORKDIR /app
# better-sqlite3 builds from source when no prebuilt binary matches.
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts && npm rebuild better-sqlite3
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY bench ./bench
# npm run build copies the committed Lit Action templates into dist/ with it.
COPY scripts/build-lit-action.mjs ./scripts/
COPY circuits ./circuits
RUN npm run build

# Compliance proofs. Without ZK_PTAU the image ships no circuit artefacts: a container sets
# up the default size (VAULT_ZK_BATCH=11, depth 4) itself on first start, in the background,
# from the shipped development ptau (about a minute; development setup, not for production).
# For production, pass a public ceremony ptau that is in the build context and the size:
#   docker build --build-arg ZK_PTAU=powersOfTau28_hez_final_16.ptau \
#     --build-arg VAULT_ZK_BATCH=64 --build-arg VAULT_ZK_DEPTH=4 -t agent-vault .
# (PLONK, no phase 2: add --build-arg VAULT_ZK_SYSTEM=plonk; N=64 at depth 4 then needs
# powersOfTau28_hez_final_18.ptau.)
# The setup then runs here, once (phase 2 takes minutes at N=64), and the image ships its
# artefacts (circuits/build/n64-d4); the ptau itself is read through a bind mount and is not
# copied into any layer. The runtime image gets the same VAULT_ZK_BATCH/VAULT_ZK_DEPTH/
# VAULT_ZK_SYSTEM (empty: the vault's defaults; setup-cli reads them from the environment
# like the vault).
ARG ZK_PTAU=""
ARG VAULT_ZK_BATCH=""
ARG VAULT_ZK_DEPTH=""
ARG VAULT_ZK_SYSTEM=""
RUN --mount=type=bind,source=.,target=/context \
    if [ -n "$ZK_PTAU" ]; then npm run circuits:setup -- --ptau="/context/$ZK_PTAU"; fi
RUN npm prune --omit=dev

FROM node:20-bookworm-slim
ARG VAULT_ZK_BATCH=""
ARG VAULT_ZK_DEPTH=""
ARG VAULT_ZK_SYSTEM=""
ENV NODE_ENV=production \
    VAULT_HOST=0.0.0.0 \
    VAULT_PORT=8080 \
    VAULT_DATA_DIR=/data \
    VAULT_ZK_BATCH=$VAULT_ZK_BATCH \
    VAULT_ZK_DEPTH=$VAULT_ZK_DEPTH \
    VAULT_ZK_SYSTEM=$VAULT_ZK_SYSTEM
WORKDIR /app
# node_modules holds snarkjs, circom2 and circomlib (runtime dependencies): proving, and
# the first-start setup when the image was built without ZK_PTAU.
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# The circuit source, the shipped development ptau and any artefacts built above; the
# vault writes a first-start setup into circuits/build, so it belongs to the vault's user.
COPY --from=build --chown=node:node /app/circuits ./circuits
COPY package.json NOTICE README.md ./
COPY bin ./bin
# /secrets: the vault identity shared by replicas and nodes (docker-compose.yml).
RUN mkdir -p /data /secrets /app/circuits/build && chown node:node /data /secrets /app/circuits/build
USER node
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.VAULT_PORT||8080)+'/readyz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
CMD ["node", "dist/src/cli/main.js", "start"]
