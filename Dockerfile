# syntax=docker/dockerfile:1
# ragops: one image for the control plane (`serve`, the default) and the worker (`worker`).
# Node 24, the current LTS: Node 20 reached end of life in April 2026 (no more security fixes).

FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY config ./config
COPY core ./core
COPY src ./src
COPY ingest ./ingest
COPY indexer ./indexer
RUN npm run build

FROM node:24-bookworm-slim AS runtime
# Open mode (no RAGOPS_API_TOKENS) answers only Host headers naming this server on its port:
# add RAGOPS_ALLOWED_HOSTS (e.g. localhost:9000 for -p 9000:8080), or set tokens.
ENV NODE_ENV=production \
    RAGOPS_DATA_DIR=/data \
    RAGOPS_HOST=0.0.0.0 \
    PORT=8080
WORKDIR /app
COPY package.json package-lock.json ./
# Native parts (LanceDB) arrive as prebuilt platform packages; no install script is needed.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY bin ./bin
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["node", "bin/ragops.js"]
CMD ["serve"]
