# syntax=docker/dockerfile:1
# Sentinel's image: one binary, registry-cli, that is both the CLI and the scoring service
# (ENTRYPOINT registry-cli, CMD serve), with the example models of models/bundle.txt at
# /opt/sentinel/models and the registry at /data/registry.db. Build it with
# scripts/build-image.sh [TAG] (Docker or Podman). The Helm chart in helm/sentinel runs it as
# uid 10001 with a read-only root filesystem; only /data (a volume) and /tmp are written.

# ---- build: a release build with the Swift standard library linked in statically -----------
FROM swift:6.3-noble AS build
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
# Versions come from the Swift image's Ubuntu release; pinning them would break every rebuild.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends libsqlite3-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# The manifest first, so that a source change does not fetch the dependencies again.
COPY Package.* ./
RUN swift package resolve
COPY . .
RUN swift build -c release --static-swift-stdlib --product registry-cli \
    && install -D -m 0755 "$(swift build -c release --show-bin-path)/registry-cli" /staging/bin/registry-cli \
    && install -D -m 0755 /usr/libexec/swift/linux/swift-backtrace-static /staging/bin/swift-backtrace-static \
    && install -D -m 0644 models/bundle.txt /staging/models/bundle.txt \
    && sed -e 's/#.*//' -e 's/[[:space:]]//g' models/bundle.txt | grep -v '^$' \
        | while read -r example; do cp -R "models/$example" /staging/models/; done

# ---- runtime: Ubuntu with libsqlite3 and jemalloc, nothing else ------------------------------
FROM ubuntu:noble
# Versions come from the Ubuntu release; pinning them would break every rebuild.
# jemalloc replaces glibc's malloc (LD_PRELOAD below): the request path allocates and frees on
# two event-loop threads and the audit writer's; with jemalloc the service answered 3-10 % more
# predictions than with glibc's in each of five back-to-back pairs of runs (bench/serve.sh takes
# ALLOCATOR=glibc for the comparison).
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends libsqlite3-0 libjemalloc2 \
    && rm -rf /var/lib/apt/lists/* \
    && ln -s /usr/lib/*-linux-gnu/libjemalloc.so.2 /usr/local/lib/libjemalloc.so.2 \
    && groupadd --system --gid 10001 sentinel \
    && useradd --system --uid 10001 --gid 10001 --home-dir /data --no-create-home \
        --shell /usr/sbin/nologin sentinel \
    && install -d -o 10001 -g 10001 -m 0750 /data
COPY --from=build /staging/bin/ /usr/local/bin/
COPY --from=build /staging/models/ /opt/sentinel/models/
LABEL org.opencontainers.image.title="sentinel" \
      org.opencontainers.image.description="Sentinel: model registry and fraud-scoring service (registry-cli)"
ENV HOST=0.0.0.0 \
    PORT=8080 \
    REGISTRY_DB=/data/registry.db \
    LOG_FORMAT=json \
    SQLITE_TMPDIR=/tmp \
    LD_PRELOAD=/usr/local/lib/libjemalloc.so.2 \
    SWIFT_BACKTRACE=enable=yes,sanitize=yes,threads=all,images=all,interactive=no,swift-backtrace=/usr/local/bin/swift-backtrace-static
VOLUME ["/data"]
WORKDIR /data
USER 10001:10001
EXPOSE 8080
# No curl in the image: bash's /dev/tcp sends GET /healthz and the status line must say 200.
# (Kubernetes ignores HEALTHCHECK; the chart's probes do the same job there.)
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s --retries=3 \
    CMD ["/bin/bash", "-c", "exec 3<>\"/dev/tcp/127.0.0.1/${PORT:-8080}\" && printf 'GET /healthz HTTP/1.0\\r\\n\\r\\n' >&3 && IFS= read -r status <&3 && [[ $status == HTTP/1.?' 200'* ]]"]
ENTRYPOINT ["registry-cli"]
CMD ["serve"]
