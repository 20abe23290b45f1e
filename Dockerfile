# syntax=docker/dockerfile:1
#
# eks-hybrid-gateway container image.
#   docker buildx build --platform linux/amd64,linux/arm64 -t <registry>/eks-hybrid-nodes-gateway:0.1.0 .
#
# Node.js 24 ("Krypton") is the active LTS line; the tag is pinned to a full
# version (bump it deliberately; add @sha256:<digest> when you publish). The
# `netlink` package ships N-API prebuilt binaries for linux-x64 and
# linux-arm64 (glibc), so no compiler is needed and install scripts stay off.
ARG NODE_IMAGE=node:24.11.1-bookworm-slim

# 1. Build: all dependencies, then `npm run build` (tsc -p tsconfig.build.json
#    → dist/, then scripts/bundle.mjs bundles it with esbuild → dist/image/).
#    Only the gateway's sources are copied (machines, effects, runtime: what
#    runtime/main.ts imports); the lab stays out of the image.
#    Platform-independent output, so it runs on the build host's platform.
FROM --platform=$BUILDPLATFORM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json .npmrc ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY scripts/bundle.mjs ./scripts/bundle.mjs
COPY machines ./machines
COPY effects ./effects
COPY runtime ./runtime
RUN npm run build

# 2. Production dependencies only (no devDependencies), for the target platform.
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && npm cache clean --force

# 3. Runtime: node, the production node_modules and dist/ only. npm, npx,
#    corepack and yarn are removed: nothing installs anything at run time.
FROM ${NODE_IMAGE} AS runtime
RUN rm -rf /usr/local/lib/node_modules/npm /usr/local/lib/node_modules/corepack \
      /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack \
      /opt/yarn-* /usr/local/bin/yarn /usr/local/bin/yarnpkg
# `kubectl exec <pod> -- doctor`: the read-only checks (runtime/doctor) with the pod's own environment.
RUN printf '#!/bin/sh\nexec node /app/dist/image/main.js doctor "$@"\n' > /usr/local/bin/doctor \
 && chmod 0755 /usr/local/bin/doctor
WORKDIR /app
ENV NODE_ENV=production
# One malloc arena: glibc gives every thread that allocates (V8's compiler and
# GC helpers, libuv's pool) an arena of its own, which kept about 11 MB more
# resident at rest; the gateway's allocation is mostly on the main thread.
ENV MALLOC_ARENA_MAX=1
# package.json carries "type": "module", which dist/**/*.js needs.
COPY --from=deps /app/package.json ./package.json
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /src/dist ./dist
# Non-root by default (the image's `node` user). The Helm chart runs the
# container as UID 0 with CAP_NET_ADMIN as its only capability, because
# Kubernetes grants no capabilities to a non-root process (see the chart README).
USER 1000:1000
# Health (/healthz, /readyz), metrics (/metrics), and the kernel's VXLAN port.
EXPOSE 8088/tcp 10080/tcp 8472/udp
# Flags given to the container (Kubernetes `args`) are appended to the entry point.
# --max-semi-space-size=1 (MB): V8's young generation otherwise grows to 3×16 MB,
# a third of what a small gateway needs resident; the gateway allocates little
# per second, so the extra scavenges cost nothing measurable.
# --max-old-space-size=512 (MB): V8 sizes its heap limit from the machine's
# memory and lets the heap grow lazily toward it; with 20,000 hybrid nodes the
# live heap is about 80 MB, and the lower limit makes V8 collect before it
# grows (45 MB less resident there, no slower). bench/scale runs exactly this
# entry point.
ENTRYPOINT ["node", "--max-semi-space-size=1", "--max-old-space-size=512", "dist/image/main.js"]
