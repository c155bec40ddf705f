# One image for api, worker and cli. Native addons (better-sqlite3, zstd-napi, @mfb/deflate
# over libdeflate) compile here.
FROM node:20-bookworm
RUN apt-get update && apt-get install -y --no-install-recommends sqlite3 libdeflate-dev python3 make g++ \
    && rm -rf /var/lib/apt/lists/* && npm install -g pnpm@12
WORKDIR /app
COPY . .
RUN pnpm install --frozen-lockfile
ENV MFB_DATA_DIR=/data
VOLUME ["/data"]
USER node
CMD ["node_modules/.bin/tsx", "apps/api/src/main.ts"]
