//! The --wifi and --server parsers (addresses, `auto`, `auto:NAME`) never
//! panic; a parsed server prints a form that parses back to it.
#![no_main]
use libfuzzer_sys::fuzz_target;
use picow_protocol::forms::{Server, ServerAddr, WifiCredentials};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let _ = WifiCredentials::parse(s);
    if let Ok(server) = ServerAddr::parse(s) {
        assert_eq!(ServerAddr::parse(&server.to_string()).unwrap(), server);
    }
    if let Ok(server) = Server::parse(s) {
        assert_eq!(Server::parse(&server.to_string()).unwrap(), server);
    }
});
