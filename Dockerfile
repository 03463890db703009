# citywatch: one image for the API and the workers (the compose file picks the command).
# The operator console is built with the dev dependencies (vite) in a stage of its own.
FROM node:20-bookworm-slim AS console
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY api/console ./api/console
RUN npm run build:console

FROM node:20-bookworm-slim

# ffmpeg decodes and records the camera streams; fonts render Chinese captions on evidence snapshots;
# curl is for health checks.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ffmpeg fonts-noto-cjk curl ca-certificates tini \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
ENV NODE_ENV=production \
    DATA_DIR=/data \
    MODEL_DIR=/models

COPY package.json package-lock.json ./
# tsx runs the TypeScript sources directly (no build step), so it is a runtime dependency.
# --ignore-scripts: `prepare` builds the console, which needs the dev dependencies (done above).
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force

COPY models ./models
COPY pipeline ./pipeline
COPY infra ./infra
COPY demo ./demo
COPY workers ./workers
COPY api ./api
COPY --from=console /app/api/console/dist ./api/console/dist
COPY bin ./bin
COPY fixtures ./fixtures
COPY tsconfig.json ./

RUN mkdir -p /data /models && chown -R node:node /data /models
USER node
VOLUME ["/data"]

# tini forwards SIGTERM so `docker stop` drains the worker (leases released, jobs finished).
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "--import", "tsx", "workers/main.ts"]
