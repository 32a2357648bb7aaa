//! Updates over Wi-Fi, the PC's side: the OTA passwords picow keeps per
//! board.

pub mod passwords;
