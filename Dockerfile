# syntax=docker/dockerfile:1
# batch-router daemon image: compiled JavaScript on the current Node LTS, run as a non-root user.

FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY managers ./managers
COPY migrations ./migrations
RUN npm run build \
 && npm prune --omit=dev --no-audit --no-fund

FROM node:24-bookworm-slim AS runtime
# Every path the daemon writes is under the volume: the data dir is the volume and also the working
# directory, so relative paths (the demo destination's ./out, the default config/api-keys.json that
# `keys create` writes) land in it. /app is read-only application code.
ENV NODE_ENV=production \
    BATCH_ROUTER_DATA_DIR=/var/lib/batch-router \
    BATCH_ROUTER_DESTINATIONS_FILE=/app/config/destinations.json \
    BATCH_ROUTER_LOG_FORMAT=json \
    PORT=8080
WORKDIR /app
RUN groupadd --system batchrouter \
 && useradd --system --gid batchrouter --home-dir /var/lib/batch-router --shell /usr/sbin/nologin batchrouter \
 && mkdir -p /var/lib/batch-router \
 && chown batchrouter:batchrouter /var/lib/batch-router
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY bin ./bin
COPY config ./config
# The dashboard (/ui) and API reference (/docs): static files served as they are, no build step.
COPY ui ./ui
USER batchrouter
VOLUME ["/var/lib/batch-router"]
WORKDIR /var/lib/batch-router
EXPOSE 8080
# Liveness: the process answers HTTP. (Readiness, database reachable and migrated, is /readyz.)
# The slim image has no curl; Node's fetch does the probe.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# tini-like signal handling is not needed: node is PID 1 but batch-router handles SIGTERM/SIGINT itself.
ENTRYPOINT ["node", "/app/bin/batch-router.js"]
CMD ["start"]
