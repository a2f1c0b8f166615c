# syntax=docker/dockerfile:1
# The Node major of the image; .ci/run runs the unit suite a second time under this same major.
ARG NODE_MAJOR=26

# ---- build: dev dependencies and the TypeScript compiler ----
FROM node:${NODE_MAJOR}-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# `prepare` runs tsc, and src/ is not copied yet: scripts wait for the explicit build below.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# ---- runtime: production dependencies and the compiled output only ----
FROM node:${NODE_MAJOR}-slim AS runtime
ENV NODE_ENV=production \
    LISTEN_ADDRESS=0.0.0.0:9742 \
    SURFACE_EXPORTER_CONFIG=/etc/surface-exporter/surfaces.yaml
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
# The registry is mounted at SURFACE_EXPORTER_CONFIG; secrets come from the environment, never the image.
USER node
EXPOSE 9742
# Slim images have no curl; Node's own fetch asks /health, which answers 503 when the poller is stale.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "const port = (process.env.LISTEN_ADDRESS || ':9742').split(':').pop(); fetch('http://127.0.0.1:' + port + '/health', { signal: AbortSignal.timeout(4000) }).then((res) => process.exit(res.ok ? 0 : 1), () => process.exit(1));"]
STOPSIGNAL SIGTERM
CMD ["node", "dist/main.js"]
