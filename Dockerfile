# Build: the SQLite driver needs cgo, so the build stage has gcc.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=1 go build -trimpath -ldflags="-s -w" -o /out/handover .

# Run: a small Debian with CA certificates (for Genesys over HTTPS) and nothing else.
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /data --no-create-home handover \
 && mkdir -m 0700 /data && chown handover /data
COPY --from=build /out/handover /usr/local/bin/handover
USER handover
WORKDIR /data
ENV HANDOVER_ADDR=:8080 \
    HANDOVER_DATABASE_URL=sqlite:///data/handover.db \
    HANDOVER_LOG_FORMAT=json \
    HANDOVER_SANDBOX=false
VOLUME /data
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 CMD ["/usr/local/bin/handover", "-healthcheck"]
ENTRYPOINT ["/usr/local/bin/handover"]
