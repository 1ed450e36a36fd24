# The emulator as a container image: `eci-imagecache serve` on port 8080,
# its state in the volume /data.
#
#   docker build -t eci-imagecache .
#   docker run -p 8080:8080 -v eci-state:/data eci-imagecache
#
# The binary comes from one of two stages, chosen by BINARY_STAGE:
#
# * `build` (the default): compiled here, in the official Rust image.
# * `prebuilt`: a binary built beforehand on a glibc Linux no newer than
#   Debian bookworm, copied from the build context at PREBUILT_BINARY
#   (target/container/eci-imagecache unless given; .dockerignore lets only
#   that path of target/ through). For machines that cannot pull the Rust
#   image:
#
#     cargo build --release --locked -p eci-imagecache-cli
#     mkdir -p target/container && cp target/release/eci-imagecache target/container/
#     docker build --build-arg BINARY_STAGE=prebuilt -t eci-imagecache .
#
#   BuildKit, and buildah/podman (which skip stages the target does not
#   use), never touch the `build` stage then, nor pull its image.
#   tests/container/run.sh builds and tests the image this way.

ARG BINARY_STAGE=build
ARG RUST_IMAGE=docker.io/library/rust:1-slim-bookworm
ARG RUNTIME_IMAGE=docker.io/library/debian:bookworm-slim

FROM ${RUST_IMAGE} AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p eci-imagecache-cli \
 && strip --strip-debug target/release/eci-imagecache \
 && install -D -m 0755 target/release/eci-imagecache /out/eci-imagecache

FROM scratch AS prebuilt
ARG PREBUILT_BINARY=target/container/eci-imagecache
COPY ${PREBUILT_BINARY} /out/eci-imagecache

FROM ${BINARY_STAGE} AS binary
# (An instruction, so the stage is not a bare FROM: buildah 1.28 building
# with --layers=false fails on one.)
ARG BINARY_STAGE

FROM ${RUNTIME_IMAGE} AS runtime
# A fixed unprivileged user; /data is its own, so a new named volume
# (which copies the image's /data, owner included) is writable to it.
RUN groupadd --system --gid 10001 eci \
 && useradd --system --uid 10001 --gid eci --home-dir /data --no-create-home --shell /usr/sbin/nologin eci \
 && install -d -o eci -g eci -m 0750 /data
# eci-imagecache-health [PORT]: exit 0 when GET /_emulator/health answers
# 200 (ready), 1 otherwise (503 while the state loads, no answer). Bash's
# /dev/tcp, so the image needs no curl; the endpoint needs no control
# token. The port is ECI_IMAGECACHE_LISTEN's unless given. For
# HEALTHCHECK, `docker run --health-cmd`, a CI service's options or a
# Kubernetes exec probe.
RUN printf '%s\n' '#!/bin/bash' \
      '# Exit 0 when eci-imagecache serve reports ready on GET /_emulator/health.' \
      'port="${1:-${ECI_IMAGECACHE_LISTEN:-:8080}}"; port="${port##*:}"' \
      'exec 3<>"/dev/tcp/127.0.0.1/$port" || exit 1' \
      'printf "GET /_emulator/health HTTP/1.0\r\nHost: 127.0.0.1:%s\r\n\r\n" "$port" >&3' \
      'read -r -t 3 _ status _ <&3 && [ "$status" = 200 ]' \
      >/usr/local/bin/eci-imagecache-health \
 && chmod 0755 /usr/local/bin/eci-imagecache-health
COPY --from=binary /out/eci-imagecache /usr/local/bin/eci-imagecache
# Every `serve` flag has an ECI_IMAGECACHE_<FLAG> variable (a flag given on
# the command line wins): these two make the image listen on every
# interface and keep its state in the volume.
ENV ECI_IMAGECACHE_LISTEN=0.0.0.0:8080 \
    ECI_IMAGECACHE_STATE=/data/state.sqlite
USER 10001:10001
WORKDIR /data
VOLUME /data
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["eci-imagecache-health"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["eci-imagecache"]
CMD ["serve"]
