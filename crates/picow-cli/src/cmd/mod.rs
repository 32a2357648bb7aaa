//! One module per subcommand: an `Args` struct and a `run` function.

pub mod completions;
pub mod flash;
pub mod monitor;
pub mod probe;
pub mod serve;
pub mod sim;
