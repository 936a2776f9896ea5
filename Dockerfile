# The image of a skein app, built from this repository the way an app that depends on skein is built:
# stage 1 packs skein (what `npm publish` ships), stage 2 is the app: a package.json, skein installed from
# that tarball with runtime dependencies only, and the app's protocol modules (here the repository's
# examples/). For an app of your own, `npx skein init` writes a Dockerfile of the second stage alone,
# with skein coming from the registry.
#
# Build: docker build -t skein-examples .
# Run:   docker run -p 9000:9000 -p 9100:9100 skein-examples
#        docker run -p 9000:9000 -p 9100:9100 skein-examples serve examples/kv/kv.ts --port 9000 --workers 1
FROM node:20-bookworm-slim AS pack
WORKDIR /skein
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts
COPY tsconfig.json tsconfig.build.json LICENSE README.md CHANGELOG.md ./
COPY src ./src
COPY config ./config
COPY templates ./templates
# prepack builds dist/ first.
RUN npm pack --pack-destination /tmp && mv /tmp/skein-*.tgz /tmp/skein.tgz

FROM node:20-bookworm-slim
ENV NODE_ENV=production \
    SKEIN_METRICS_HOST=0.0.0.0
WORKDIR /app
COPY --from=pack /tmp/skein.tgz /tmp/skein.tgz
# tsx comes with skein: the app's .ts modules run without a build step.
RUN echo '{ "name": "skein-examples", "private": true, "type": "module" }' > package.json \
 && npm install --omit=dev --no-audit --no-fund /tmp/skein.tgz \
 && rm /tmp/skein.tgz && npm cache clean --force
COPY examples ./examples
USER node
EXPOSE 9000 9100
# The primary drains on SIGTERM (--shutdown-timeout, default 10 s) and exits 0.
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "node_modules/skein/dist/cli.js"]
CMD ["serve", "examples/seed/seed.ts", "--port", "9000"]
