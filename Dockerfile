# Herald gateway image. Build: docker build -t herald:dev .
# The Bun version is the one package.json pins (dependency "bun"); test/deploy checks they agree.

# --- deps: production dependencies only, from the committed lockfile -------------------
FROM oven/bun:1.4.5-slim AS deps
WORKDIR /app
COPY package.json package-lock.json bunfig.toml ./
# --frozen-lockfile: the build fails rather than resolve versions the lockfile does not name
# (Bun reads package-lock.json). No lifecycle scripts: nothing in production needs one.
# --omit=optional: uWebSockets.js (~113 MB of native addons) is the Node engine's; Bun serves
# with Bun.serve and never loads it. An image that runs the gateway on Node must keep it
# (npm ci installs optional dependencies unless told otherwise).
# The npm package "bun" (and its platform binary) is removed: the base image already
# ships the same Bun as /usr/local/bin/bun, and it is ~100 MB.
RUN bun install --production --omit=optional --frozen-lockfile --ignore-scripts \
 && rm -rf node_modules/bun node_modules/@oven node_modules/.bin/bun node_modules/.bin/bunx

# --- runtime ----------------------------------------------------------------------------
FROM oven/bun:1.4.5-slim AS runtime
WORKDIR /app
# NODE_ENV=production: a missing JWT key or publish token stops the process (exit 2)
# instead of starting in development mode with made-up secrets.
# BUN_RUNTIME_TRANSPILER_CACHE_PATH=0: the root filesystem is read-only in Kubernetes;
# Bun must not try to write its transpiler cache.
ENV NODE_ENV=production \
    HERALD_HOST=0.0.0.0 \
    HERALD_PORT=8080 \
    BUN_RUNTIME_TRANSPILER_CACHE_PATH=0
COPY --from=deps /app/node_modules ./node_modules
COPY package.json bunfig.toml tsconfig.json ./
COPY src ./src
# The base image's "bun" user, by number: Kubernetes can only verify runAsNonRoot
# against a numeric user (k8s/base/deployment.yaml runs as the same uid).
USER 1000:1000
EXPOSE 8080
# The image has no curl: Bun's own fetch asks /healthz on the configured port.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["bun", "-e", "fetch('http://127.0.0.1:' + (process.env.HERALD_PORT || '8080') + '/healthz').then((r) => process.exit(r.status === 200 ? 0 : 1), () => process.exit(1))"]
# Exec form, Bun as PID 1: SIGTERM reaches the gateway, which drains and exits 0.
# Never `npm start` here: its shell does not pass signals on.
ENTRYPOINT ["bun", "src/main.ts"]
