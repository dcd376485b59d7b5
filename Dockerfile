# The Weft server image: docker build -t weft:local . (README, Deploying)
# Node 24 comes from the base image; the production dependencies are installed without
# install scripts (the `node` package's only job, downloading Node 24, is not needed here).
# test/e2e/container-image.test.ts runs this file's install step and its start command outside
# Docker (scripts/prepare-server-package-tests.ts does the install), so keep them in this form.

FROM node:24-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund

FROM node:24-slim
ENV NODE_ENV=production \
    WEFT_HOST=0.0.0.0 \
    WEFT_PORT=8080 \
    WEFT_DATA_DIR=/data
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY bin ./bin
COPY gen/ts ./gen/ts
COPY src ./src
# The web console (/ui/), built beforehand: npm run build:console
COPY console/dist ./console/dist
RUN mkdir -p /data && chown node:node /data
VOLUME /data
USER node
EXPOSE 8080
# Cleartext only: with TLS (WEFT_TLS_CERT) replace it (docker run --health-cmd) or switch it off (--no-healthcheck).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.WEFT_PORT || 8080) + '/grpc.health.v1.Health/Check', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}', signal: AbortSignal.timeout(4000) }).then((r) => r.json()).then((b) => process.exit(b.status === 'SERVING' ? 0 : 1), () => process.exit(1))"]
# Exec form: node is PID 1 and gets SIGTERM itself (docker stop), which stops the server gracefully.
ENTRYPOINT ["node", "bin/weft.js"]
CMD ["server"]
