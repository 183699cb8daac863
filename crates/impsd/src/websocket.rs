//! The server side of a WebSocket (RFC 6455), written for connections
//! that are idle nearly all their life (issue 19, memory per connected
//! session): while nothing is being read or written it holds no buffer.
//!
//! A plain TCP connection is waited on for readiness and read only then,
//! into a buffer made for that read and given back once its frames are
//! taken; frames to send are gathered in a buffer that is given back once
//! written. (A connection whose socket is not a plain TCP stream, TLS,
//! keeps a read buffer while it waits: its reads need one.)
//!
//! [`Decoder`] is the frame reader without I/O: the handshake's accept
//! key, frame headers, masking, fragments and control frames, with the
//! size limit checked from each frame's header on.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes, BytesMut};
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::conn::Tracked;

/// The key every accept key is derived with (RFC 6455, section 1.3).
const ACCEPT_GUID: &[u8] = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// `Sec-WebSocket-Accept` for a request's `Sec-WebSocket-Key`.
pub fn accept_key(key: &[u8]) -> String {
    use base64::Engine;
    use sha1::Digest;
    let mut h = sha1::Sha1::new();
    h.update(key);
    h.update(ACCEPT_GUID);
    base64::engine::general_purpose::STANDARD.encode(h.finalize())
}

const OP_CONTINUATION: u8 = 0x0;
const OP_TEXT: u8 = 0x1;
const OP_BINARY: u8 = 0x2;
const OP_CLOSE: u8 = 0x8;
const OP_PING: u8 = 0x9;
const OP_PONG: u8 = 0xA;

/// Largest payload of a control frame.
const MAX_CONTROL: usize = 125;

/// Close codes the server sends of its own (RFC 6455, section 7.4.1).
pub const CLOSE_PROTOCOL_ERROR: u16 = 1002;
pub const CLOSE_BAD_DATA: u16 = 1007;

/// A whole message from the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WsMessage {
    /// A text message: its bytes are valid UTF-8.
    Text(Bytes),
    Binary(Bytes),
    Ping(Bytes),
    Pong(Bytes),
    Close(Option<CloseFrame>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseFrame {
    pub code: u16,
    pub reason: String,
}

#[derive(Debug, thiserror::Error)]
pub enum WsError {
    #[error("WebSocket i/o: {0}")]
    Io(#[from] io::Error),
    /// A frame or message over the size limit (close code 1009).
    #[error("WebSocket frame or message over {0} bytes")]
    TooBig(usize),
    #[error("WebSocket protocol error: {0}")]
    Protocol(&'static str),
    #[error("WebSocket text message not UTF-8")]
    BadUtf8,
}

impl WsError {
    /// The close code the server answers the error with, if it answers.
    fn close_code(&self) -> Option<u16> {
        match self {
            WsError::Io(_) | WsError::TooBig(_) => None,
            WsError::Protocol(_) => Some(CLOSE_PROTOCOL_ERROR),
            WsError::BadUtf8 => Some(CLOSE_BAD_DATA),
        }
    }
}

/// A frame's header, read from the front of the buffer.
struct Header {
    fin: bool,
    opcode: u8,
    mask: [u8; 4],
    /// Bytes of the header itself.
    len: usize,
    /// Bytes of the payload.
    payload: usize,
}

/// Reads client frames into messages: fragments gathered, control frames
/// (which may come between fragments) given out as they come.
pub struct Decoder {
    /// Largest frame and largest message, in bytes.
    max: usize,
    /// A fragmented message begun: its opcode and the payload so far
    /// (boxed: rare, and every connection holds the room for it).
    partial: Option<Box<(u8, BytesMut)>>,
}

impl Decoder {
    pub fn new(max: usize) -> Decoder {
        Decoder { max, partial: None }
    }

    /// Takes the next whole message off the front of `buf`; `None` until
    /// enough bytes are there. An error ends the connection.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<WsMessage>, WsError> {
        loop {
            let Some(h) = self.header(buf)? else {
                return Ok(None);
            };
            if buf.len() - h.len < h.payload {
                return Ok(None);
            }
            buf.advance(h.len);
            let mut payload = buf.split_to(h.payload);
            unmask(&mut payload, h.mask);
            match h.opcode {
                OP_PING => return Ok(Some(WsMessage::Ping(payload.freeze()))),
                OP_PONG => return Ok(Some(WsMessage::Pong(payload.freeze()))),
                OP_CLOSE => return close_frame(&payload).map(|c| Some(WsMessage::Close(c))),
                // (A new message inside a fragmented one, and a continuation
                // without one, were refused from the header.)
                OP_TEXT | OP_BINARY if h.fin => return finish(h.opcode, payload).map(Some),
                OP_TEXT | OP_BINARY => self.partial = Some(Box::new((h.opcode, payload))),
                _ => {
                    let Some(begun) = self.partial.take() else {
                        return Err(WsError::Protocol("a continuation without a message"));
                    };
                    let (op, mut so_far) = *begun;
                    so_far.extend_from_slice(&payload);
                    if h.fin {
                        return finish(op, so_far).map(Some);
                    }
                    self.partial = Some(Box::new((op, so_far)));
                }
            }
        }
    }

    /// Bytes still to come before the frame at the front of `buf` is
    /// whole (at least 1 while its header is incomplete), or 0.
    pub fn missing(&self, buf: &[u8]) -> usize {
        let need = match header_len(buf) {
            None => 2,
            Some(n) if buf.len() < n => n,
            Some(n) => n + payload_len(buf).unwrap_or(0).min(self.max as u64) as usize,
        };
        need.saturating_sub(buf.len())
    }

    fn header(&self, buf: &[u8]) -> Result<Option<Header>, WsError> {
        let Some(len) = header_len(buf) else {
            return Ok(None);
        };
        let (b0, b1) = (buf[0], buf[1]);
        let (fin, opcode) = (b0 & 0x80 != 0, b0 & 0x0F);
        if b0 & 0x70 != 0 {
            return Err(WsError::Protocol("reserved bits set (no extension agreed)"));
        }
        if b1 & 0x80 == 0 {
            return Err(WsError::Protocol("a client frame not masked"));
        }
        // The length is read as soon as it is there, so that a frame over
        // the limit is refused from its header on.
        let Some(payload) = payload_len(buf) else {
            return Ok(None);
        };
        if payload >> 63 != 0 {
            return Err(WsError::Protocol("a 64-bit length with its top bit set"));
        }
        match opcode {
            OP_CLOSE | OP_PING | OP_PONG => {
                if !fin {
                    return Err(WsError::Protocol("a fragmented control frame"));
                }
                if payload > MAX_CONTROL as u64 {
                    return Err(WsError::Protocol("a control frame over 125 bytes"));
                }
            }
            OP_TEXT | OP_BINARY if self.partial.is_some() => {
                return Err(WsError::Protocol("a new message inside a fragmented one"));
            }
            OP_CONTINUATION if self.partial.is_none() => {
                return Err(WsError::Protocol("a continuation without a message"));
            }
            OP_CONTINUATION | OP_TEXT | OP_BINARY => {
                let so_far = self.partial.as_ref().map_or(0, |b| b.1.len()) as u64;
                if payload.saturating_add(so_far) > self.max as u64 {
                    return Err(WsError::TooBig(self.max));
                }
            }
            _ => return Err(WsError::Protocol("a reserved opcode")),
        }
        if buf.len() < len {
            return Ok(None);
        }
        let mask = [buf[len - 4], buf[len - 3], buf[len - 2], buf[len - 1]];
        Ok(Some(Header {
            fin,
            opcode,
            mask,
            len,
            payload: payload as usize,
        }))
    }
}

/// Bytes of the header of the (masked) frame at the front of `buf`, once
/// its first two bytes are there.
fn header_len(buf: &[u8]) -> Option<usize> {
    let b1 = *buf.get(1)?;
    let ext = match b1 & 0x7F {
        126 => 2,
        127 => 8,
        _ => 0,
    };
    Some(2 + ext + 4)
}

/// The payload length of the frame at the front of `buf`, once its
/// extended length bytes are there.
fn payload_len(buf: &[u8]) -> Option<u64> {
    let b1 = *buf.get(1)?;
    match b1 & 0x7F {
        126 => Some(u16::from_be_bytes([*buf.get(2)?, *buf.get(3)?]) as u64),
        127 => {
            let b: [u8; 8] = buf.get(2..10)?.try_into().ok()?;
            Some(u64::from_be_bytes(b))
        }
        n => Some(n as u64),
    }
}

fn unmask(payload: &mut [u8], mask: [u8; 4]) {
    for (i, b) in payload.iter_mut().enumerate() {
        *b ^= mask[i & 3];
    }
}

/// A whole data message.
fn finish(opcode: u8, payload: BytesMut) -> Result<WsMessage, WsError> {
    if opcode == OP_TEXT {
        if std::str::from_utf8(&payload).is_err() {
            return Err(WsError::BadUtf8);
        }
        Ok(WsMessage::Text(payload.freeze()))
    } else {
        Ok(WsMessage::Binary(payload.freeze()))
    }
}

/// A close frame's code and reason (RFC 6455, sections 5.5.1 and 7.4).
fn close_frame(payload: &[u8]) -> Result<Option<CloseFrame>, WsError> {
    match payload {
        [] => Ok(None),
        [_] => Err(WsError::Protocol("a close frame of one byte")),
        [a, b, reason @ ..] => {
            let code = u16::from_be_bytes([*a, *b]);
            // 1012-1014 were registered after the RFC (restart, try again
            // later, bad gateway).
            let allowed = matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999);
            if !allowed {
                return Err(WsError::Protocol("a close code not to be sent"));
            }
            let reason = std::str::from_utf8(reason).map_err(|_| WsError::BadUtf8)?;
            Ok(Some(CloseFrame {
                code,
                reason: reason.to_string(),
            }))
        }
    }
}

/// Appends one whole, unmasked frame (a server's) to `out`.
pub fn encode_frame(out: &mut Vec<u8>, opcode: u8, payload: &[u8]) {
    out.push(0x80 | opcode);
    let n = payload.len();
    if n < 126 {
        out.push(n as u8);
    } else if let Ok(n) = u16::try_from(n) {
        out.push(126);
        out.extend_from_slice(&n.to_be_bytes());
    } else {
        out.push(127);
        out.extend_from_slice(&(n as u64).to_be_bytes());
    }
    out.extend_from_slice(payload);
}

fn close_payload(frame: Option<&CloseFrame>) -> Vec<u8> {
    let mut p = Vec::new();
    if let Some(f) = frame {
        p.extend_from_slice(&f.code.to_be_bytes());
        // A control frame's payload is at most 125 bytes.
        let mut end = f.reason.len().min(MAX_CONTROL - 2);
        while !f.reason.is_char_boundary(end) {
            end -= 1;
        }
        p.extend_from_slice(&f.reason.as_bytes()[..end]);
    }
    p
}

/// The upgraded connection under a WebSocket.
enum Io {
    /// Plain TCP: read only once readable, so no buffer waits with it.
    Tcp(Tracked<TcpStream>),
    /// Anything else (TLS): read through its own reader.
    Other(TokioIo<Upgraded>),
}

/// Sizes a connection works with.
#[derive(Debug, Clone, Copy)]
pub struct WsConfig {
    /// Largest frame and largest message from the client, in bytes.
    pub max_message: usize,
    /// Bytes asked of the socket per read.
    pub read_chunk: usize,
    /// Bytes of frames gathered before they are written out (they are
    /// written at the latest on `flush`).
    pub write_batch: usize,
}

/// One WebSocket, server side, after the handshake.
pub struct WsConn {
    io: Io,
    cfg: WsConfig,
    dec: Decoder,
    /// Bytes read and not yet taken as frames; unallocated when empty.
    rbuf: BytesMut,
    /// Frames to write, and how much of them is written.
    wbuf: Vec<u8>,
    written: usize,
    /// A close frame was queued (no frame may follow it).
    close_sent: bool,
    /// The close frame to answer the client's close or protocol error
    /// with, sent by [`WsConn::close`] once the connection ends: the
    /// replies of the requests still running go out before it.
    pending_close: Option<Vec<u8>>,
    /// The client closed, or its stream ended or failed.
    read_done: bool,
}

impl WsConn {
    /// The WebSocket over an upgraded HTTP/1.1 connection. Bytes the
    /// client sent after its upgrade request come first.
    pub fn new(upgraded: Upgraded, cfg: WsConfig) -> WsConn {
        let (io, pre) = match hyper_util::server::conn::auto::upgrade::downcast::<
            TokioIo<Tracked<TcpStream>>,
        >(upgraded)
        {
            Ok(parts) => (Io::Tcp(parts.io.into_inner()), parts.read_buf),
            Err(up) => (Io::Other(TokioIo::new(up)), Bytes::new()),
        };
        WsConn {
            io,
            cfg,
            dec: Decoder::new(cfg.max_message),
            rbuf: BytesMut::from(&pre[..]),
            wbuf: Vec::new(),
            written: 0,
            close_sent: false,
            pending_close: None,
            read_done: false,
        }
    }

    /// The next message from the client; `None` once it closed or its
    /// stream ended. Cancel safe: bytes read stay for the next call.
    /// A ping is answered (the pong goes out with the next flush); a
    /// close is answered, and a protocol error answered with its close
    /// code, at the next flush.
    ///
    /// Polled by hand rather than an async fn: the future is a reference,
    /// so a connection's task waiting on it is no larger for it.
    pub fn recv(&mut self) -> impl Future<Output = Option<Result<WsMessage, WsError>>> + '_ {
        std::future::poll_fn(move |cx| self.poll_recv(cx))
    }

    fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<WsMessage, WsError>>> {
        loop {
            if self.read_done {
                return Poll::Ready(None);
            }
            match self.dec.decode(&mut self.rbuf) {
                Ok(Some(m)) => {
                    self.release_read_buffer();
                    match &m {
                        WsMessage::Ping(p) => self.queue_control(OP_PONG, p),
                        WsMessage::Close(c) => {
                            self.read_done = true;
                            self.pending_close.get_or_insert(close_payload(c.as_ref()));
                        }
                        _ => {}
                    }
                    return Poll::Ready(Some(Ok(m)));
                }
                Ok(None) => self.release_read_buffer(),
                Err(e) => {
                    self.read_done = true;
                    if let Some(code) = e.close_code() {
                        self.pending_close
                            .get_or_insert(close_payload(Some(&CloseFrame {
                                code,
                                reason: String::new(),
                            })));
                    }
                    return Poll::Ready(Some(Err(e)));
                }
            }
            match std::task::ready!(self.poll_read_more(cx)) {
                Ok(0) => {
                    self.read_done = true;
                    return Poll::Ready(None);
                }
                Ok(_) => {}
                Err(e) => {
                    self.read_done = true;
                    return Poll::Ready(Some(Err(e.into())));
                }
            }
        }
    }

    /// The read buffer given back once nothing is left in it.
    fn release_read_buffer(&mut self) {
        if self.rbuf.is_empty() && self.rbuf.capacity() > 0 {
            self.rbuf = BytesMut::new();
        }
    }

    /// Reads more bytes; a plain TCP socket only once it is readable, so
    /// that no buffer waits with it.
    fn poll_read_more(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        let want = self.cfg.read_chunk.max(self.dec.missing(&self.rbuf));
        match &mut self.io {
            Io::Tcp(t) => loop {
                let sock = t.get_ref();
                std::task::ready!(sock.poll_read_ready(cx))?;
                self.rbuf.reserve(want);
                let room = self.rbuf.capacity() - self.rbuf.len();
                let rbuf = &mut self.rbuf;
                let mut short = None;
                // A read that did not fill the room it had drained the
                // socket: its readiness is cleared with it (as tokio's own
                // reads do), so the next wait goes to the driver instead
                // of a read that finds nothing (issue 19: one system call
                // less per frame). The readiness cleared is the one seen
                // before the read: data that came after it is not missed.
                let r = sock.try_io(tokio::io::Interest::READABLE, || {
                    let n = sock.try_read_buf(rbuf)?;
                    if n > 0 && n < room {
                        short = Some(n);
                        return Err(io::ErrorKind::WouldBlock.into());
                    }
                    Ok(n)
                });
                match (r, short) {
                    (_, Some(n)) => return Poll::Ready(Ok(n)),
                    // Readiness was cleared: the next poll waits for more.
                    (Err(e), None) if e.kind() == io::ErrorKind::WouldBlock => continue,
                    (r, None) => return Poll::Ready(r),
                }
            },
            Io::Other(s) => {
                self.rbuf.reserve(want);
                tokio_util::io::poll_read_buf(Pin::new(s), cx, &mut self.rbuf)
            }
        }
    }

    fn queue_control(&mut self, opcode: u8, payload: &[u8]) {
        if !self.close_sent {
            encode_frame(&mut self.wbuf, opcode, payload);
        }
    }

    fn queue_close(&mut self, payload: &[u8]) {
        if !self.close_sent {
            encode_frame(&mut self.wbuf, OP_CLOSE, payload);
            self.close_sent = true;
        }
    }

    /// Queues a text frame (XML) or a binary one (WBXML); written once
    /// the batch is full, else at the next flush.
    pub async fn feed(&mut self, text: bool, payload: &[u8]) -> Result<(), WsError> {
        if self.close_sent {
            return Err(WsError::Io(io::ErrorKind::BrokenPipe.into()));
        }
        let opcode = if text { OP_TEXT } else { OP_BINARY };
        encode_frame(&mut self.wbuf, opcode, payload);
        if self.wbuf.len() - self.written >= self.cfg.write_batch {
            self.write_out().await?;
        }
        Ok(())
    }

    /// Writes everything queued.
    pub async fn flush(&mut self) -> Result<(), WsError> {
        self.write_out().await?;
        match &mut self.io {
            Io::Tcp(_) => {}
            Io::Other(s) => s.flush().await?,
        }
        Ok(())
    }

    /// Queues a close frame (unless one went already) and writes it out:
    /// the answer to the client's close or protocol error if there was
    /// one, else `frame`.
    pub async fn close(&mut self, frame: Option<CloseFrame>) -> Result<(), WsError> {
        let payload = match self.pending_close.take() {
            Some(p) => p,
            None => close_payload(frame.as_ref()),
        };
        self.queue_close(&payload);
        self.flush().await
    }

    /// Cancel safe: what was written is remembered.
    async fn write_out(&mut self) -> Result<(), WsError> {
        while self.written < self.wbuf.len() {
            let rest = &self.wbuf[self.written..];
            let n = match &mut self.io {
                Io::Tcp(t) => t.write(rest).await?,
                Io::Other(s) => s.write(rest).await?,
            };
            if n == 0 {
                return Err(WsError::Io(io::ErrorKind::WriteZero.into()));
            }
            self.written += n;
        }
        // Given back: an idle connection holds no write buffer.
        self.wbuf = Vec::new();
        self.written = 0;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // test code: a panic is a failed test

    use super::*;
    use proptest::prelude::*;
    use tokio_tungstenite::tungstenite::protocol::frame::coding::{Control, Data, OpCode};
    use tokio_tungstenite::tungstenite::protocol::frame::{Frame, FrameHeader};

    /// A client's frame, masked, as tungstenite (the clients' library)
    /// writes it: the reader is checked against another writer than ours.
    fn client_frame(op: OpCode, payload: &[u8], fin: bool, mask: [u8; 4]) -> Vec<u8> {
        let mut f = Frame::message(payload.to_vec(), op, fin);
        f.header_mut().mask = Some(mask);
        let mut out = Vec::new();
        f.format(&mut out).unwrap();
        out
    }

    fn decode_all(dec: &mut Decoder, buf: &mut BytesMut) -> Result<Vec<WsMessage>, WsError> {
        let mut got = Vec::new();
        while let Some(m) = dec.decode(buf)? {
            got.push(m);
        }
        Ok(got)
    }

    /// The example of RFC 6455, section 1.3.
    #[test]
    fn the_accept_key_is_the_rfcs() {
        assert_eq!(
            accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    /// One message of the client, as the test sends it.
    #[derive(Debug, Clone)]
    enum Sent {
        Text(String),
        Binary(Vec<u8>),
        Ping(Vec<u8>),
    }

    fn sent() -> impl Strategy<Value = (Sent, usize)> {
        (
            prop_oneof![
                ".{0,300}".prop_map(Sent::Text),
                proptest::collection::vec(any::<u8>(), 0..70_000).prop_map(Sent::Binary),
                proptest::collection::vec(any::<u8>(), 0..=125).prop_map(Sent::Ping),
            ],
            // Fragments of a data message.
            1usize..4,
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        /// Messages sent whole or in fragments, with pings between the
        /// fragments, and the bytes arriving cut anywhere, read back as
        /// sent and in order.
        #[test]
        fn messages_cut_anywhere_read_back_as_sent(
            msgs in proptest::collection::vec(sent(), 1..6),
            mask in any::<[u8; 4]>(),
            cuts in proptest::collection::vec(1usize..5000, 1..40),
        ) {
            let mut wire = Vec::new();
            let mut want = Vec::new();
            for (m, parts) in &msgs {
                match m {
                    Sent::Ping(p) => {
                        wire.extend(client_frame(OpCode::Control(Control::Ping), p, true, mask));
                        want.push(WsMessage::Ping(Bytes::from(p.clone())));
                    }
                    Sent::Text(_) | Sent::Binary(_) => {
                        let (op, bytes, whole) = match m {
                            Sent::Text(t) => (Data::Text, t.as_bytes().to_vec(), WsMessage::Text(Bytes::from(t.clone()))),
                            Sent::Binary(b) => (Data::Binary, b.clone(), WsMessage::Binary(Bytes::from(b.clone()))),
                            Sent::Ping(_) => unreachable!(),
                        };
                        let step = bytes.len().div_ceil(*parts).max(1);
                        let chunks: Vec<&[u8]> = if bytes.is_empty() { vec![&[][..]] } else { bytes.chunks(step).collect() };
                        let last = chunks.len() - 1;
                        for (i, c) in chunks.iter().enumerate() {
                            let op = if i == 0 { OpCode::Data(op) } else { OpCode::Data(Data::Continue) };
                            wire.extend(client_frame(op, c, i == last, mask));
                            if i < last {
                                // A control frame may come between fragments.
                                wire.extend(client_frame(OpCode::Control(Control::Ping), b"x", true, mask));
                                want.push(WsMessage::Ping(Bytes::from_static(b"x")));
                            }
                        }
                        want.push(whole);
                    }
                }
            }
            let mut dec = Decoder::new(100_000);
            let mut buf = BytesMut::new();
            let mut got = Vec::new();
            let mut rest = &wire[..];
            let mut cut = cuts.iter().cycle();
            while !rest.is_empty() {
                let n = (*cut.next().unwrap()).min(rest.len());
                buf.extend_from_slice(&rest[..n]);
                rest = &rest[n..];
                got.extend(decode_all(&mut dec, &mut buf).unwrap());
            }
            prop_assert!(buf.is_empty());
            prop_assert_eq!(got, want);
        }

        /// Any bytes: the reader gives messages, waits or fails, never
        /// panics, and never gives a message over the limit.
        #[test]
        fn any_bytes_are_read_or_refused(
            bytes in proptest::collection::vec(any::<u8>(), 0..600),
            max in 0usize..300,
        ) {
            let mut dec = Decoder::new(max);
            let mut buf = BytesMut::from(&bytes[..]);
            while let Ok(Some(m)) = dec.decode(&mut buf) {
                if let WsMessage::Text(b) | WsMessage::Binary(b) = &m {
                    prop_assert!(b.len() <= max);
                }
                if let WsMessage::Text(b) = &m {
                    prop_assert!(std::str::from_utf8(b).is_ok());
                }
            }
            let _ = dec.missing(&buf);
        }
    }

    fn err(bytes: &[u8], max: usize) -> WsError {
        let mut dec = Decoder::new(max);
        decode_all(&mut dec, &mut BytesMut::from(bytes)).unwrap_err()
    }

    const MASK: [u8; 4] = [1, 2, 3, 4];

    #[test]
    fn a_frame_over_the_limit_is_refused_from_its_header() {
        let f = client_frame(OpCode::Data(Data::Binary), &[0; 300], true, MASK);
        // The header alone (2 + 2 length bytes): refused before the rest.
        assert!(matches!(err(&f[..4], 200), WsError::TooBig(200)));
        // Fragments that add up to more than the limit.
        let mut two = client_frame(OpCode::Data(Data::Text), &[b'a'; 150], false, MASK);
        two.extend(client_frame(
            OpCode::Data(Data::Continue),
            &[b'a'; 60],
            true,
            MASK,
        ));
        assert!(matches!(err(&two, 200), WsError::TooBig(200)));
        // At the limit: read.
        let f = client_frame(OpCode::Data(Data::Binary), &[7; 200], true, MASK);
        let mut dec = Decoder::new(200);
        let got = decode_all(&mut dec, &mut BytesMut::from(&f[..])).unwrap();
        assert_eq!(got, [WsMessage::Binary(Bytes::from(vec![7; 200]))]);
    }

    #[test]
    fn frames_the_protocol_forbids_are_refused_with_their_close_codes() {
        let text = client_frame(OpCode::Data(Data::Text), b"hi", true, MASK);
        // Not masked.
        let mut unmasked = text.clone();
        unmasked[1] &= 0x7F;
        unmasked.drain(2..6);
        let cases: Vec<(&str, Vec<u8>, u16)> = vec![
            ("unmasked", unmasked, CLOSE_PROTOCOL_ERROR),
            (
                "reserved bit",
                {
                    let mut f = text.clone();
                    f[0] |= 0x40;
                    f
                },
                CLOSE_PROTOCOL_ERROR,
            ),
            (
                "reserved opcode",
                {
                    let mut f = text.clone();
                    f[0] = 0x83;
                    f
                },
                CLOSE_PROTOCOL_ERROR,
            ),
            (
                "fragmented ping",
                client_frame(OpCode::Control(Control::Ping), b"", false, MASK),
                CLOSE_PROTOCOL_ERROR,
            ),
            (
                "long ping",
                client_frame(OpCode::Control(Control::Ping), &[0; 126], true, MASK),
                CLOSE_PROTOCOL_ERROR,
            ),
            (
                "lone continuation",
                client_frame(OpCode::Data(Data::Continue), b"x", true, MASK),
                CLOSE_PROTOCOL_ERROR,
            ),
            (
                "text inside a fragmented message",
                {
                    let mut f = client_frame(OpCode::Data(Data::Text), b"a", false, MASK);
                    f.extend(client_frame(OpCode::Data(Data::Binary), b"b", true, MASK));
                    f
                },
                CLOSE_PROTOCOL_ERROR,
            ),
            (
                "close code 1005",
                client_frame(
                    OpCode::Control(Control::Close),
                    &1005u16.to_be_bytes(),
                    true,
                    MASK,
                ),
                CLOSE_PROTOCOL_ERROR,
            ),
            (
                "64-bit length with its top bit set",
                vec![0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4],
                CLOSE_PROTOCOL_ERROR,
            ),
            (
                "a message over the limit inside a fragmented one",
                {
                    let mut f = client_frame(OpCode::Data(Data::Text), b"a", false, MASK);
                    f.extend(client_frame(
                        OpCode::Data(Data::Binary),
                        &[0; 2000],
                        true,
                        MASK,
                    ));
                    f
                },
                CLOSE_PROTOCOL_ERROR,
            ),
            (
                "close of one byte",
                client_frame(OpCode::Control(Control::Close), &[3], true, MASK),
                CLOSE_PROTOCOL_ERROR,
            ),
            (
                "text not UTF-8",
                client_frame(OpCode::Data(Data::Text), &[0xC3, 0x28], true, MASK),
                CLOSE_BAD_DATA,
            ),
            (
                "close reason not UTF-8",
                client_frame(OpCode::Control(Control::Close), &[3, 232, 0xFF], true, MASK),
                CLOSE_BAD_DATA,
            ),
        ];
        for (what, bytes, code) in cases {
            let e = err(&bytes, 1000);
            assert_eq!(e.close_code(), Some(code), "{what}: {e}");
        }
    }

    #[test]
    fn a_close_carries_its_code_and_reason() {
        let mut p = 1000u16.to_be_bytes().to_vec();
        p.extend_from_slice("bye ü".as_bytes());
        let f = client_frame(OpCode::Control(Control::Close), &p, true, MASK);
        let got = decode_all(&mut Decoder::new(10), &mut BytesMut::from(&f[..])).unwrap();
        let close = CloseFrame {
            code: 1000,
            reason: "bye ü".into(),
        };
        assert_eq!(got, [WsMessage::Close(Some(close.clone()))]);
        // A code registered after the RFC (1013, try again later) is read.
        let f = client_frame(
            OpCode::Control(Control::Close),
            &1013u16.to_be_bytes(),
            true,
            MASK,
        );
        let got = decode_all(&mut Decoder::new(10), &mut BytesMut::from(&f[..])).unwrap();
        let later = CloseFrame {
            code: 1013,
            reason: String::new(),
        };
        assert_eq!(got, [WsMessage::Close(Some(later))]);
        assert_eq!(close_payload(Some(&close)), p);
        // A reason longer than a control frame holds is cut on a
        // character boundary.
        let long = CloseFrame {
            code: 1001,
            reason: "é".repeat(100),
        };
        let p = close_payload(Some(&long));
        assert!(p.len() <= MAX_CONTROL);
        assert!(std::str::from_utf8(&p[2..]).is_ok());
    }

    /// The server's frames as a client (tungstenite) reads them, at each
    /// length encoding.
    #[test]
    fn server_frames_read_back_with_tungstenite() {
        for n in [0usize, 1, 125, 126, 65_535, 65_536, 100_000] {
            let payload: Vec<u8> = (0..n).map(|i| i as u8).collect();
            let mut out = Vec::new();
            encode_frame(&mut out, OP_BINARY, &payload);
            let mut cur = std::io::Cursor::new(&out[..]);
            let (h, len) = FrameHeader::parse(&mut cur).unwrap().unwrap();
            assert!(h.is_final && h.mask.is_none(), "{n}");
            assert_eq!(h.opcode, OpCode::Data(Data::Binary));
            assert_eq!(len, n as u64);
            assert_eq!(&out[cur.position() as usize..], &payload[..]);
        }
    }

    #[test]
    fn missing_counts_what_a_frame_still_needs() {
        let f = client_frame(OpCode::Data(Data::Binary), &[0; 300], true, MASK);
        let dec = Decoder::new(1000);
        assert_eq!(dec.missing(&[]), 2);
        assert_eq!(dec.missing(&f[..1]), 1);
        // The header: 2 + 2 length bytes + 4 mask bytes; then the 300.
        assert_eq!(dec.missing(&f[..2]), 6);
        assert_eq!(dec.missing(&f[..8]), 300);
        assert_eq!(dec.missing(&f[..100]), f.len() - 100);
        assert_eq!(dec.missing(&f), 0);
    }
}
