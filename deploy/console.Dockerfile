# The ops console: built once with Node, served as static files by nginx (unprivileged, port 8080).
#   docker build -f deploy/console.Dockerfile -t registry.example/groupsuite-console:latest .
# One image for every environment: /config.json (which gateways, OIDC) comes from a ConfigMap
# mounted over the built default (deploy/k8s/console.yaml). The gateways are reached through the
# same origin under /svc/<service>/ (the Ingress routes them), so no CORS is needed.

FROM node:20.19-bookworm-slim AS build
WORKDIR /console
ENV npm_config_audit=false npm_config_fund=false npm_config_update_notifier=false
# Dependencies first (cached while the lockfile does not change).
COPY console/package.json console/package-lock.json ./
RUN npm ci
# Sources, the committed OpenAPI snapshots the API types are generated from, and the build.
COPY console/ ./
RUN npm run build

FROM nginxinc/nginx-unprivileged:1.27-alpine
COPY deploy/console/nginx.conf /etc/nginx/conf.d/default.conf
COPY --from=build /console/dist/ /usr/share/nginx/html/
# Runs as uid 101 (the image's nginx user), listens on 8080.
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=3s CMD wget -q -O /dev/null http://127.0.0.1:8080/healthz || exit 1
