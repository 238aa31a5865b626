//! Raw HTTP/2 from a client's side, for tests that compare what two servers send on a
//! connection: their SETTINGS, their keep-alive PINGs, their GOAWAYs.

use std::time::Duration;

use tokio::{
    io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt},
    time::Instant,
};

/// Frame types.
pub const SETTINGS: u8 = 0x4;
/// A PING frame.
pub const PING: u8 = 0x6;
/// A GOAWAY frame.
pub const GOAWAY: u8 = 0x7;
/// A WINDOW_UPDATE frame.
pub const WINDOW_UPDATE: u8 = 0x8;
/// The ACK flag of SETTINGS and PING frames.
pub const ACK: u8 = 0x1;

/// One frame as it arrived.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    /// The frame type.
    pub kind: u8,
    /// Its flags.
    pub flags: u8,
    /// The stream it is on; 0 for the connection.
    pub stream: u32,
    /// Its payload.
    pub payload: Vec<u8>,
}

impl Frame {
    /// The `(identifier, value)` pairs of a SETTINGS frame.
    pub fn settings(&self) -> Vec<(u16, u32)> {
        assert_eq!(self.kind, SETTINGS, "not a SETTINGS frame: {self:?}");
        let pair = |chunk: &[u8]| {
            let id = u16::from_be_bytes([chunk[0], chunk[1]]);
            (id, u32::from_be_bytes([chunk[2], chunk[3], chunk[4], chunk[5]]))
        };
        self.payload.chunks(6).map(pair).collect()
    }
}

/// Opens an HTTP/2 connection on `io` (the preface and an empty SETTINGS frame) and returns
/// what the server sent before it answered two PINGs, the second sent once the first was
/// answered: its SETTINGS, the window update it sends once it has read the client's first
/// frames, its acknowledgement of the client's SETTINGS.
pub async fn handshake<IO: AsyncRead + AsyncWrite + Unpin>(io: &mut IO) -> Vec<Frame> {
    io.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n").await.expect("the preface is written");
    io.write_all(&[0, 0, 0, SETTINGS, 0, 0, 0, 0, 0]).await.expect("SETTINGS is written");
    let mut frames = Vec::new();
    for mark in [*b"h2wire-1", *b"h2wire-2"] {
        io.write_all(&[0, 0, 8, PING, 0, 0, 0, 0, 0]).await.expect("a PING is written");
        io.write_all(&mark).await.expect("the PING's payload is written");
        loop {
            let frame = read_frame(io).await.expect("the server answers the handshake");
            if frame.kind == PING && frame.flags & ACK != 0 && frame.payload == mark {
                break;
            }
            frames.push(frame);
        }
    }
    frames
}

/// Reads the next frame; `None` once the connection is closed.
pub async fn read_frame<IO: AsyncRead + Unpin>(io: &mut IO) -> Option<Frame> {
    let mut header = [0; 9];
    io.read_exact(&mut header).await.ok()?;
    let length = u32::from_be_bytes([0, header[0], header[1], header[2]]) as usize;
    let mut payload = vec![0; length];
    io.read_exact(&mut payload).await.ok()?;
    let stream = u32::from_be_bytes([header[5], header[6], header[7], header[8]]) & !(1 << 31);
    Some(Frame { kind: header[3], flags: header[4], stream, payload })
}

/// The frames the server sends, never answered, with the tokio time each arrived after the
/// call, until the server closes the connection or `within` has passed; and whether it closed.
pub async fn listen<IO: AsyncRead + Unpin>(
    io: &mut IO,
    within: Duration,
) -> (Vec<(Duration, Frame)>, bool) {
    let start = Instant::now();
    let mut frames = Vec::new();
    let reading = async {
        while let Some(frame) = read_frame(io).await {
            frames.push((start.elapsed(), frame));
        }
    };
    let closed = tokio::time::timeout(within, reading).await.is_ok();
    (frames, closed)
}

/// Opens `streams` unary streams to the probe and resets each (`CANCEL`), all in one write, so
/// the server reads every reset before it can accept the streams.
pub async fn open_and_reset<IO: AsyncWrite + Unpin>(io: &mut IO, streams: u32) {
    // POST http://localhost/probe.Probe/Unary, in HPACK: `:method POST` and `:scheme http` from
    // the static table, `:path` and `:authority` as literals with names from it, not indexed.
    let mut block = vec![0x83, 0x86];
    for (name, value) in [(0x04, &b"/probe.Probe/Unary"[..]), (0x01, b"localhost")] {
        block.extend_from_slice(&[name, value.len() as u8]);
        block.extend_from_slice(value);
    }
    let mut frames = Vec::new();
    for stream in (0..streams).map(|n| 2 * n + 1) {
        let length = (block.len() as u32).to_be_bytes();
        // HEADERS with END_HEADERS, then RST_STREAM with CANCEL.
        frames.extend_from_slice(&[length[1], length[2], length[3], 0x1, 0x4]);
        frames.extend_from_slice(&stream.to_be_bytes());
        frames.extend_from_slice(&block);
        frames.extend_from_slice(&[0, 0, 4, 0x3, 0]);
        frames.extend_from_slice(&stream.to_be_bytes());
        frames.extend_from_slice(&8u32.to_be_bytes());
    }
    io.write_all(&frames).await.expect("the streams are written");
}
