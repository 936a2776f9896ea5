# skein container image: multi-stage, runtime dependencies only, non-root.
# Build: docker build -t skein .   Run: docker run -p 9000:9000 -p 9100:9100 skein
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

FROM node:20-bookworm-slim
ENV NODE_ENV=production \
    SKEIN_METRICS_HOST=0.0.0.0
WORKDIR /app
COPY package.json package-lock.json ./
# tsx is a runtime dependency: .ts protocol modules mounted into /app/protocols run without a build step.
RUN npm ci --omit=dev && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY config ./config
USER node
EXPOSE 9000 9100
# The primary drains on SIGTERM (--shutdown-timeout, default 10 s) and exits 0.
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "dist/cli.js"]
CMD ["serve", "--config", "config/demo.json"]
