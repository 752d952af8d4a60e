# syntax=docker/dockerfile:1
# birthcert: a release build, then a slim runtime with the CJK font the printed forms embed,
# pg_dump for `birthcert backup` on PostgreSQL, and a non-root user. /data holds the SQLite
# database (embedded default), the sealed images and the audit anchors.
#
#   docker build -t birthcert .
#   docker run -p 8080:8080 -v birthcert-data:/data birthcert
#
# Without BIRTHCERT_ENV=production the image runs the embedded defaults (SQLite, in-process
# store, in-process mock platform): a demonstration. compose.yaml runs it on PostgreSQL and
# Redis; the README's "Run in production" section says what production needs.

FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
# The registry and the target directory are cache mounts: a rebuild after a source change
# recompiles the service, not its dependencies.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin birthcert \
    && cp target/release/birthcert /usr/local/bin/birthcert

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl fonts-wqy-zenhei postgresql-client \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --user-group --home-dir /data --no-create-home birthcert \
    && mkdir -p /data /app \
    && chown birthcert:birthcert /data
WORKDIR /app
COPY --from=build /usr/local/bin/birthcert /usr/local/bin/birthcert
COPY --from=build /src/config /app/config
ENV BIRTHCERT_CONFIG_DIR=/app/config \
    BIRTHCERT__SERVER__HOST=0.0.0.0 \
    BIRTHCERT__DATABASE__URL="sqlite:///data/birthcert.db?mode=rwc" \
    BIRTHCERT__BLOBS__DIR=/data/blobs \
    BIRTHCERT__AUDIT__ANCHOR_FILE=/data/audit-anchors.log \
    BIRTHCERT__PDF__FONT_PATH=/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc
USER 10001:10001
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
    CMD ["curl", "-fsS", "-o", "/dev/null", "http://127.0.0.1:8080/readyz"]
ENTRYPOINT ["birthcert"]
CMD ["serve"]
