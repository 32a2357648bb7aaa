//! picow-web's integration tests: one binary, one module per topic.

mod browser;
mod fuzz;
mod security;
mod support;
