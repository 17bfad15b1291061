# The eventbench image: the release binary and the libraries it links (OpenSSL, zlib)
# on a slim Debian base, run as a non-root user. Used by deploy/kubernetes and by
# `scripts/image`, which builds it here without a registry.
#
# With a registry (a CI runner, a laptop with Docker):
#   docker build -t eventbench:0.1.0 .
# Without one, or to reuse a binary already built on a Debian 12 host (glibc 2.36):
#   scripts/image                    (a debootstrap base, then --target prebuilt)
#
# BUILDER and BASE are build arguments so that a base made offline can stand in for
# the registry's (scripts/image passes its own).
ARG BUILDER=docker.io/library/rust:1.95-slim-bookworm
ARG BASE=docker.io/library/debian:bookworm-slim

FROM ${BUILDER} AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential cmake pkg-config libssl-dev zlib1g-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Cargo.toml Cargo.lock build.rs* ./
COPY src src
COPY benches benches
RUN cargo build --release --locked --bin eventbench \
 && strip target/release/eventbench \
 && cp target/release/eventbench /eventbench

# The runtime: what `ldd eventbench` names beyond glibc (libssl3, zlib1g) and CA
# certificates for TLS to a real cluster; a user with no login and no home of worth.
FROM ${BASE} AS runtime
RUN (command -v apt-get >/dev/null && dpkg -s libssl3 zlib1g ca-certificates >/dev/null 2>&1 \
     || (apt-get update && apt-get install -y --no-install-recommends libssl3 zlib1g ca-certificates \
         && rm -rf /var/lib/apt/lists/*)) \
 && groupadd --gid 10001 eventbench \
 && useradd --uid 10001 --gid 10001 --home-dir /work --create-home --shell /usr/sbin/nologin eventbench
WORKDIR /work
ENV PATH=/usr/local/bin:/usr/bin:/bin

# A binary built on the host (`--target prebuilt`, the context's `image/eventbench`):
# what scripts/image uses where no Rust image can be pulled.
FROM runtime AS prebuilt
COPY image/eventbench /usr/local/bin/eventbench
COPY scenarios /usr/share/eventbench/scenarios
USER 10001:10001
ENTRYPOINT ["eventbench"]
CMD ["--help"]

# A binary built by the build stage above (the default target: the last stage).
FROM runtime AS built
COPY --from=build /eventbench /usr/local/bin/eventbench
COPY scenarios /usr/share/eventbench/scenarios
USER 10001:10001
ENTRYPOINT ["eventbench"]
CMD ["--help"]
