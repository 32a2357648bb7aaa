//! Updates over Wi-Fi, the PC's side: the uploader (ESPHome's protocol),
//! one update start to end, and the OTA passwords picow keeps per board.

pub mod client;
pub mod cmd;
pub mod passwords;
pub mod update;
