//! Everything that talks to the espflash library: flash plans and images
//! ([`image`]), the session with a board's ROM loader ([`device`]), port
//! choice for flashing ([`select`]) and progress output ([`progress`]).
//!
//! Architecture invariant: `cmd::flash` and `cmd::probe` validate input and
//! print; this module does the work and never reads the command line.

pub mod device;
#[doc(hidden)]
pub mod fixture;
pub mod image;
pub mod progress;
pub mod select;
