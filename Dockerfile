# citywatch: one image for the API and the workers (the compose file picks the command).
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
RUN npm ci --omit=dev && npm cache clean --force

COPY models ./models
COPY pipeline ./pipeline
COPY infra ./infra
COPY demo ./demo
COPY workers ./workers
COPY api ./api
COPY bin ./bin
COPY fixtures ./fixtures
COPY tsconfig.json ./

RUN mkdir -p /data /models && chown -R node:node /data /models
USER node
VOLUME ["/data"]

# tini forwards SIGTERM so `docker stop` drains the worker (leases released, jobs finished).
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "--import", "tsx", "workers/main.ts"]
