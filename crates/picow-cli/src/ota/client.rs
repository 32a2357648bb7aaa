//! The uploader's side of ESPHome's OTA protocol (see
//! `picow_protocol::ota::wire`), over a blocking TCP connection: what
//! `picow flash --ota` and `picow serve`'s `/update` use. It speaks to
//! picow boards (with picow's extensions: the board's MAC, queries, config
//! records) and to ESPHome devices (without them).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use md5::{Digest, Md5};
use picow_protocol::ota::device::auth_response;
use picow_protocol::ota::wire::{
    client_features, ota_type, response, server_features, QueryInfo, BLOCK, MAGIC,
};

/// How long the handshake may take (ESPHome's uploader waits 20 s).
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(20);
/// How long one answer during the upload may take (ESPHome's 90 s).
pub const DATA_TIMEOUT: Duration = Duration::from_secs(90);

/// What went wrong. Each message says what it means for the board.
#[derive(Debug, thiserror::Error)]
pub enum OtaError {
    /// The TCP connection could not be made.
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        /// Where.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The device ended the connection.
    #[error("the board closed the connection {during}")]
    Closed {
        /// The step.
        during: &'static str,
    },
    /// No answer in time.
    #[error("the board did not answer {during} in time")]
    Timeout {
        /// The step.
        during: &'static str,
    },
    /// The connection failed.
    #[error("the connection failed {during}: {source}")]
    Io {
        /// The step.
        during: &'static str,
        /// Why.
        source: std::io::Error,
    },
    /// The device does not speak the protocol.
    #[error("the board answered {during} with {got:#04x}, which is not ESPHome's OTA protocol")]
    Protocol {
        /// The step.
        during: &'static str,
        /// The byte.
        got: u8,
    },
    /// The device has no OTA password: it refuses every update.
    #[error("the board has no OTA password, so it refuses every update over Wi-Fi")]
    NoPassword,
    /// The password is wrong.
    #[error("the OTA password is wrong")]
    WrongPassword,
    /// The device refused, with one of ESPHome's error codes.
    #[error("the board refused the update {during}: {} (code {code:#04x})", response::describe(*code))]
    Refused {
        /// The step.
        during: &'static str,
        /// The code.
        code: u8,
    },
    /// The device answered a query with something unreadable.
    #[error("the board's answer to the query is malformed")]
    BadQuery,
    /// Asked for picow's extensions, but the device is not a picow board.
    #[error(
        "the board speaks ESPHome's OTA protocol but is not a picow board (no picow extensions)"
    )]
    NotPicow,
}

impl OtaError {
    fn io(during: &'static str, e: std::io::Error) -> OtaError {
        match e.kind() {
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => {
                OtaError::Timeout { during }
            }
            std::io::ErrorKind::UnexpectedEof
            | std::io::ErrorKind::ConnectionReset
            | std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::BrokenPipe => OtaError::Closed { during },
            _ => OtaError::Io { during, source: e },
        }
    }
}

/// What the device said about itself in the handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hello {
    /// The device takes a gzip upload.
    pub compression: bool,
    /// The device is a picow board (it sent its MAC).
    pub mac: Option<[u8; 6]>,
}

/// Bytes both ways, for the benchmark.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Traffic {
    /// Sent to the device.
    pub sent: u64,
    /// Received from it.
    pub received: u64,
}

/// One connection, up to the point where the password is needed.
#[derive(Debug)]
pub struct Connection {
    stream: TcpStream,
    /// What the device said.
    pub hello: Hello,
    /// Bytes so far.
    pub traffic: Traffic,
}

/// Whether the upload is gzip-compressed when the device takes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compress {
    /// When the device takes it.
    IfOffered,
    /// Never (ask the device not to).
    Never,
}

impl Connection {
    /// Connects and says hello: magic, version, features. `picow` asks for
    /// picow's extensions (the MAC comes back).
    pub fn open(addr: SocketAddr, compress: Compress, picow: bool) -> Result<Connection, OtaError> {
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(10))
            .map_err(|source| OtaError::Connect { addr, source })?;
        let _ = stream.set_nodelay(true);
        let _ = stream.set_read_timeout(Some(HANDSHAKE_TIMEOUT));
        let _ = stream.set_write_timeout(Some(DATA_TIMEOUT));
        let mut c = Connection {
            stream,
            hello: Hello {
                compression: false,
                mac: None,
            },
            traffic: Traffic::default(),
        };
        c.send(&MAGIC, "sending the magic bytes")?;
        let answer = c.read_n::<2>("after the magic bytes")?;
        if answer[0] != response::OK {
            return Err(c.error(answer[0], "after the magic bytes"));
        }
        if !(1..=2).contains(&answer[1]) {
            return Err(OtaError::Protocol {
                during: "with its version",
                got: answer[1],
            });
        }
        let mut features = client_features::SHA256_AUTH | client_features::EXTENDED;
        if compress == Compress::IfOffered {
            features |= client_features::COMPRESSION;
        }
        if picow {
            features |= client_features::PICOW;
        }
        c.send(&[features], "sending the features")?;
        let f = c.byte("to the features")?;
        match f {
            response::FEATURE_FLAGS => {
                let flags = c.byte("with its feature flags")?;
                c.hello.compression = flags & server_features::COMPRESSION != 0;
                if flags & server_features::PICOW != 0 {
                    c.hello.mac = Some(c.read_n::<6>("with its MAC")?);
                }
            }
            response::SUPPORTS_COMPRESSION => c.hello.compression = true,
            response::HEADER_OK => {}
            other => return Err(c.error(other, "to the features")),
        }
        Ok(c)
    }

    /// The challenge-response (or none, when the device asks for none).
    pub fn authenticate(&mut self, password: &str) -> Result<(), OtaError> {
        let auth = self.byte("when asking for the password")?;
        let len = match auth {
            response::AUTH_OK => return Ok(()),
            response::REQUEST_SHA256_AUTH => 64,
            response::REQUEST_AUTH => 32,
            // Refused where the challenge would be: no password set.
            response::ERROR_AUTH_INVALID => return Err(OtaError::NoPassword),
            other => return Err(self.error(other, "when asking for the password")),
        };
        let mut nonce = vec![0u8; len];
        self.read_exact(&mut nonce, "with the challenge")?;
        let mut random = vec![0u8; len / 2];
        getrandom::fill(&mut random).map_err(|e| OtaError::Io {
            during: "making a nonce",
            source: std::io::Error::other(e.to_string()),
        })?;
        let cnonce: String = random.iter().map(|b| format!("{b:02x}")).collect();
        let answer = auth_response(password, &nonce, cnonce.as_bytes());
        let mut msg = cnonce.into_bytes();
        msg.extend_from_slice(answer.as_bytes());
        self.send(&msg, "sending the password's proof")?;
        // A wrong password is answered after a pause that grows each time.
        match self.byte("to the password")? {
            response::AUTH_OK => Ok(()),
            response::ERROR_AUTH_INVALID => Err(OtaError::WrongPassword),
            other => Err(self.error(other, "to the password")),
        }
    }

    /// After authentication: asks a picow board what it runs (and so
    /// confirms an image on trial).
    pub fn query(mut self) -> Result<(QueryInfo, Traffic), OtaError> {
        if self.hello.mac.is_none() {
            return Err(OtaError::NotPicow);
        }
        self.send(&[ota_type::PICOW_QUERY], "sending the query")?;
        let code = self.byte("to the query")?;
        if code != response::PICOW_INFO {
            return Err(self.error(code, "to the query"));
        }
        let len = self.byte("with the query's answer")? as usize;
        let mut body = vec![0u8; len];
        self.read_exact(&mut body, "with the query's answer")?;
        let info = QueryInfo::decode(&body).ok_or(OtaError::BadQuery)?;
        Ok((info, self.traffic))
    }

    /// After authentication: uploads `body` (of OTA type `kind`; gzip
    /// stream when [`Hello::compression`] was negotiated), reporting
    /// progress as bytes acknowledged. Returns when the device said the
    /// update is verified and active.
    pub fn upload(
        mut self,
        kind: u8,
        body: &[u8],
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<Traffic, OtaError> {
        self.send(&[kind], "sending the OTA type")?;
        let size = u32::try_from(body.len()).map_err(|_| OtaError::Refused {
            during: "for its size",
            code: response::ERROR_ESP32_NOT_ENOUGH_SPACE,
        })?;
        self.send(&size.to_be_bytes(), "sending the size")?;
        self.expect(response::UPDATE_PREPARE_OK, "to the size")?;
        let md5: String = Md5::digest(body)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        self.send(md5.as_bytes(), "sending the MD5")?;
        self.expect(response::BIN_MD5_OK, "to the MD5")?;
        let _ = self.stream.set_read_timeout(Some(DATA_TIMEOUT));
        let total = body.len() as u64;
        let mut acked = 0u64;
        for chunk in body.chunks(BLOCK as usize) {
            self.send(chunk, "sending the image")?;
            self.expect(response::CHUNK_OK, "while receiving the image")?;
            acked += chunk.len() as u64;
            progress(acked, total);
        }
        self.expect(response::RECEIVE_OK, "at the end of the image")?;
        self.expect(response::UPDATE_END_OK, "when verifying the image")?;
        // The last byte; the device reboots whether it arrives or not.
        let _ = self.send(&[response::OK], "acknowledging the end");
        Ok(self.traffic)
    }

    fn error(&self, code: u8, during: &'static str) -> OtaError {
        if (0x80..=0xFF).contains(&code) {
            OtaError::Refused { during, code }
        } else {
            OtaError::Protocol { during, got: code }
        }
    }

    fn expect(&mut self, want: u8, during: &'static str) -> Result<(), OtaError> {
        match self.byte(during)? {
            b if b == want => Ok(()),
            other => Err(self.error(other, during)),
        }
    }

    fn send(&mut self, bytes: &[u8], during: &'static str) -> Result<(), OtaError> {
        self.stream
            .write_all(bytes)
            .map_err(|e| OtaError::io(during, e))?;
        self.traffic.sent += bytes.len() as u64;
        Ok(())
    }

    fn read_exact(&mut self, buf: &mut [u8], during: &'static str) -> Result<(), OtaError> {
        self.stream
            .read_exact(buf)
            .map_err(|e| OtaError::io(during, e))?;
        self.traffic.received += buf.len() as u64;
        Ok(())
    }

    fn read_n<const N: usize>(&mut self, during: &'static str) -> Result<[u8; N], OtaError> {
        let mut b = [0u8; N];
        self.read_exact(&mut b, during)?;
        Ok(b)
    }

    fn byte(&mut self, during: &'static str) -> Result<u8, OtaError> {
        Ok(self.read_n::<1>(during)?[0])
    }
}

/// Compresses an upload as ESPHome's uploader does (gzip, level 9).
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    // Writing to a Vec cannot fail.
    let _ = e.write_all(bytes);
    e.finish().unwrap_or_default()
}
