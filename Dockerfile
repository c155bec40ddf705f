# One image for api, worker and cli, running compiled JavaScript (`pnpm build` -> dist/) with
# plain node: no transpiler at run time. Native addons (better-sqlite3, zstd-napi, @mfb/deflate
# over libdeflate, @mfb/pagehash over xxHash's header) compile here.
FROM node:20-bookworm
RUN apt-get update && apt-get install -y --no-install-recommends sqlite3 libdeflate-dev libxxhash-dev python3 make g++ \
    && rm -rf /var/lib/apt/lists/* && npm install -g pnpm@12
WORKDIR /app
COPY . .
RUN pnpm install --frozen-lockfile && pnpm build \
    && ln -s /app/apps/cli/bin/backupctl.js /usr/local/bin/backupctl
ENV MFB_DATA_DIR=/data
VOLUME ["/data"]
USER node
# The worker: `node apps/worker/dist/main.js`; the CLI: `backupctl ...` (see docker-compose.yml).
CMD ["node", "apps/api/dist/main.js"]
