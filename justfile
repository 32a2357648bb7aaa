# One-line recipes; the logic lives in xtask.

default:
    @just --list

build:
    cargo build --workspace

test:
    cargo test --workspace

ci:
    cargo xtask ci

serve port="10000":
    cargo run --release -p picow-cli -- serve --port {{port}}

fw chip="esp32c3":
    cargo xtask fw build --chip {{chip}} --release

lint:
    cargo clippy --workspace --all-targets -- -D warnings

fmt:
    cargo fmt --all
