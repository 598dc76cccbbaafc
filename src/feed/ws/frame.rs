//! RFC 6455 framing, client side: a reader for server frames and a writer for masked client
//! frames, both over buffers allocated once in `new`.
//!
//! The reader owns a read buffer (the socket reads into its spare tail) and a message buffer.
//! A complete, unfragmented data frame that fits the read buffer is handed out in place, with
//! no copy; fragmented messages, and frames bigger than the read buffer, are assembled in the
//! message buffer, which is exactly `max_message` bytes. Nothing here allocates after `new`,
//! and no input, however malformed, panics: every violation is a [`ProtocolError`].
//!
//! No extension is ever negotiated, so any reserved bit is an error. Text messages are checked
//! for UTF-8 (the RFC requires it); their content is not otherwise inspected.

/// Continuation frame.
pub const OP_CONTINUATION: u8 = 0x0;
/// Text frame.
pub const OP_TEXT: u8 = 0x1;
/// Binary frame.
pub const OP_BINARY: u8 = 0x2;
/// Close frame.
pub const OP_CLOSE: u8 = 0x8;
/// Ping frame.
pub const OP_PING: u8 = 0x9;
/// Pong frame.
pub const OP_PONG: u8 = 0xA;

/// Largest control-frame payload (RFC 6455 §5.5).
pub const MAX_CONTROL_PAYLOAD: usize = 125;
/// Largest frame header: 2 bytes, 8 bytes of extended length, 4 bytes of mask key.
pub const MAX_HEADER: usize = 14;
/// Close code sent in place of a missing one (never on the wire, RFC 6455 §7.4.1).
pub const CLOSE_NO_STATUS: u16 = 1005;
/// Normal closure.
pub const CLOSE_NORMAL: u16 = 1000;
/// Protocol error.
pub const CLOSE_PROTOCOL: u16 = 1002;
/// Data inconsistent with the message type (invalid UTF-8 in a text message).
pub const CLOSE_INVALID_DATA: u16 = 1007;
/// Message too big to process.
pub const CLOSE_TOO_BIG: u16 = 1009;

/// A server frame or message that breaks RFC 6455 (or our size limit).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProtocolError {
    /// The server masked a frame (servers must not, §5.1).
    MaskedFrame,
    /// RSV1-3 set with no extension negotiated.
    ReservedBits,
    /// An opcode RFC 6455 reserves (3-7, 0xB-0xF); the opcode is carried.
    ReservedOpcode(u8),
    /// A control frame without FIN.
    FragmentedControl,
    /// A control frame with more than 125 bytes of payload.
    ControlTooLong,
    /// A 64-bit length with its most significant bit set.
    LengthOverflow,
    /// A continuation frame with no message in progress.
    UnexpectedContinuation,
    /// A new text or binary frame while a fragmented message is still in progress.
    ExpectedContinuation,
    /// A message over the configured maximum size.
    MessageTooBig,
    /// A text message that is not UTF-8.
    InvalidUtf8,
    /// A close frame with a one-byte payload.
    BadClosePayload,
}

impl ProtocolError {
    /// The close code to send the server before dropping the connection.
    pub fn close_code(self) -> u16 {
        match self {
            ProtocolError::MessageTooBig => CLOSE_TOO_BIG,
            ProtocolError::InvalidUtf8 => CLOSE_INVALID_DATA,
            _ => CLOSE_PROTOCOL,
        }
    }
}

/// Where a complete message lies: in the read buffer (zero copy) or the message buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Loc {
    /// `read[start..end]`.
    Read {
        /// First byte.
        start: usize,
        /// One past the last byte.
        end: usize,
    },
    /// `message[..len]`.
    Assembled {
        /// Length.
        len: usize,
    },
}

/// What [`FrameReader::next_frame`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Frame {
    /// A complete data message.
    Message {
        /// Text (UTF-8 checked) or binary.
        text: bool,
        /// Its bytes; see [`FrameReader::slice`].
        loc: Loc,
        /// It came in more than one frame.
        fragmented: bool,
    },
    /// A ping; its payload is at the location.
    Ping(Loc),
    /// A pong; its payload is at the location.
    Pong(Loc),
    /// A close frame with its status code ([`CLOSE_NO_STATUS`] when it carried none).
    Close {
        /// Status code.
        code: u16,
    },
    /// No complete frame buffered: read more into [`FrameReader::spare`].
    NeedData,
}

/// A data frame whose payload is being copied into the message buffer as it arrives.
#[derive(Clone, Copy, Debug)]
struct Streaming {
    fin: bool,
    remaining: usize,
}

/// Reads server frames out of a preallocated buffer.
pub struct FrameReader {
    read: Box<[u8]>,
    head: usize,
    tail: usize,
    /// Bytes the frame at `head` needs contiguously (0 when unknown), so `spare` knows when to
    /// move it to the front.
    need: usize,
    message: Box<[u8]>,
    message_len: usize,
    /// Opcode of the fragmented message in progress.
    assembling: Option<u8>,
    /// Frames in the message in progress.
    frames_in_message: u32,
    streaming: Option<Streaming>,
}

/// Smallest spare tail worth a read syscall before compacting.
const MIN_SPARE: usize = 2048;

impl FrameReader {
    /// A reader with a `read_capacity`-byte read buffer that accepts messages of at most
    /// `max_message` bytes. `read_capacity` is raised to hold at least one maximal control frame.
    pub fn new(read_capacity: usize, max_message: usize) -> Self {
        let read_capacity = read_capacity.max(MIN_SPARE + MAX_HEADER + MAX_CONTROL_PAYLOAD);
        Self {
            read: vec![0; read_capacity].into_boxed_slice(),
            head: 0,
            tail: 0,
            need: 0,
            message: vec![0; max_message].into_boxed_slice(),
            message_len: 0,
            assembling: None,
            frames_in_message: 0,
            streaming: None,
        }
    }

    /// Forgets everything buffered (a new connection).
    pub fn reset(&mut self) {
        self.head = 0;
        self.tail = 0;
        self.need = 0;
        self.message_len = 0;
        self.assembling = None;
        self.frames_in_message = 0;
        self.streaming = None;
    }

    /// Largest message accepted.
    pub fn max_message(&self) -> usize {
        self.message.len()
    }

    /// Bytes received but not yet consumed.
    pub fn buffered(&self) -> usize {
        self.tail - self.head
    }

    /// Appends bytes that arrived with the handshake. `false` if they do not fit.
    pub fn preload(&mut self, bytes: &[u8]) -> bool {
        if bytes.len() > self.spare().len() {
            return false;
        }
        let n = bytes.len();
        self.spare()[..n].copy_from_slice(bytes);
        self.filled(n);
        true
    }

    /// The free tail of the read buffer, for the socket to read into. Moves the unconsumed
    /// bytes to the front first when the tail is short or the pending frame would not fit.
    pub fn spare(&mut self) -> &mut [u8] {
        if self.head == self.tail {
            self.head = 0;
            self.tail = 0;
        } else if self.head > 0
            && (self.read.len() - self.tail < MIN_SPARE || self.head + self.need > self.read.len())
        {
            self.read.copy_within(self.head..self.tail, 0);
            self.tail -= self.head;
            self.head = 0;
        }
        debug_assert!(
            self.tail < self.read.len(),
            "a pending frame always leaves room"
        );
        &mut self.read[self.tail..]
    }

    /// Records that the socket wrote `n` bytes into [`Self::spare`].
    pub fn filled(&mut self, n: usize) {
        debug_assert!(self.tail + n <= self.read.len());
        self.tail = (self.tail + n).min(self.read.len());
    }

    /// The bytes of a message or control payload returned by [`Self::next_frame`]. Valid until the
    /// next call to `next_frame` or `spare`.
    pub fn slice(&self, loc: Loc) -> &[u8] {
        match loc {
            Loc::Read { start, end } => &self.read[start..end],
            Loc::Assembled { len } => &self.message[..len],
        }
    }

    /// The next complete frame of interest, or [`Frame::NeedData`]. Data frames that are only
    /// part of a message are absorbed here; control frames are returned even in the middle of
    /// a fragmented message.
    pub fn next_frame(&mut self) -> Result<Frame, ProtocolError> {
        loop {
            if let Some(mut s) = self.streaming {
                let take = s.remaining.min(self.tail - self.head);
                // The size check at the header guarantees the room.
                let dst = self
                    .message
                    .get_mut(self.message_len..self.message_len + take)
                    .ok_or(ProtocolError::MessageTooBig)?;
                dst.copy_from_slice(&self.read[self.head..self.head + take]);
                self.message_len += take;
                self.head += take;
                s.remaining -= take;
                if s.remaining > 0 {
                    self.streaming = Some(s);
                    self.need = 0;
                    return Ok(Frame::NeedData);
                }
                self.streaming = None;
                if s.fin {
                    return self.finish_assembled();
                }
                continue;
            }

            let avail = &self.read[self.head..self.tail];
            if avail.len() < 2 {
                self.need = 2;
                return Ok(Frame::NeedData);
            }
            let (b0, b1) = (avail[0], avail[1]);
            if b0 & 0x70 != 0 {
                return Err(ProtocolError::ReservedBits);
            }
            let fin = b0 & 0x80 != 0;
            let op = b0 & 0x0F;
            if !matches!(
                op,
                OP_CONTINUATION | OP_TEXT | OP_BINARY | OP_CLOSE | OP_PING | OP_PONG
            ) {
                return Err(ProtocolError::ReservedOpcode(op));
            }
            if b1 & 0x80 != 0 {
                return Err(ProtocolError::MaskedFrame);
            }
            let control = op & 0x08 != 0;
            let len7 = b1 & 0x7F;
            if control {
                if !fin {
                    return Err(ProtocolError::FragmentedControl);
                }
                if len7 as usize > MAX_CONTROL_PAYLOAD {
                    return Err(ProtocolError::ControlTooLong);
                }
            }
            let (header, len) = match len7 {
                126 => {
                    if avail.len() < 4 {
                        self.need = 4;
                        return Ok(Frame::NeedData);
                    }
                    (4, u64::from(u16::from_be_bytes([avail[2], avail[3]])))
                }
                127 => {
                    if avail.len() < 10 {
                        self.need = 10;
                        return Ok(Frame::NeedData);
                    }
                    let mut b = [0u8; 8];
                    b.copy_from_slice(&avail[2..10]);
                    let n = u64::from_be_bytes(b);
                    if n >> 63 != 0 {
                        return Err(ProtocolError::LengthOverflow);
                    }
                    (10, n)
                }
                n => (2, u64::from(n)),
            };

            if control {
                let len = len as usize;
                if avail.len() < header + len {
                    self.need = header + len;
                    return Ok(Frame::NeedData);
                }
                let start = self.head + header;
                let end = start + len;
                self.head = end;
                let loc = Loc::Read { start, end };
                return match op {
                    OP_PING => Ok(Frame::Ping(loc)),
                    OP_PONG => Ok(Frame::Pong(loc)),
                    _ => match len {
                        0 => Ok(Frame::Close {
                            code: CLOSE_NO_STATUS,
                        }),
                        1 => Err(ProtocolError::BadClosePayload),
                        _ => Ok(Frame::Close {
                            code: u16::from_be_bytes([self.read[start], self.read[start + 1]]),
                        }),
                    },
                };
            }

            // Data frame.
            let max = self.message.len() as u64;
            match (op, self.assembling) {
                (OP_CONTINUATION, None) => return Err(ProtocolError::UnexpectedContinuation),
                (OP_CONTINUATION, Some(_)) => {
                    if self.message_len as u64 + len > max {
                        return Err(ProtocolError::MessageTooBig);
                    }
                }
                (_, Some(_)) => return Err(ProtocolError::ExpectedContinuation),
                (_, None) => {
                    if len > max {
                        return Err(ProtocolError::MessageTooBig);
                    }
                }
            }
            let len = len as usize; // <= max, which is a usize
            let text = op == OP_TEXT;
            if op != OP_CONTINUATION && fin && header + len <= self.read.len() {
                // The common case: a whole message in one frame, handed out in place.
                if avail.len() < header + len {
                    self.need = header + len;
                    return Ok(Frame::NeedData);
                }
                let start = self.head + header;
                let end = start + len;
                self.head = end;
                if text && std::str::from_utf8(&self.read[start..end]).is_err() {
                    return Err(ProtocolError::InvalidUtf8);
                }
                return Ok(Frame::Message {
                    text,
                    loc: Loc::Read { start, end },
                    fragmented: false,
                });
            }
            // A fragment, or a frame too big for the read buffer: copy into the message buffer.
            self.head += header;
            if op != OP_CONTINUATION {
                self.assembling = Some(op);
                self.message_len = 0;
                self.frames_in_message = 0;
            }
            self.frames_in_message = self.frames_in_message.saturating_add(1);
            self.streaming = Some(Streaming {
                fin,
                remaining: len,
            });
        }
    }

    fn finish_assembled(&mut self) -> Result<Frame, ProtocolError> {
        let text = self.assembling == Some(OP_TEXT);
        self.assembling = None;
        let len = self.message_len;
        if text && std::str::from_utf8(&self.message[..len]).is_err() {
            return Err(ProtocolError::InvalidUtf8);
        }
        Ok(Frame::Message {
            text,
            loc: Loc::Assembled { len },
            fragmented: self.frames_in_message > 1,
        })
    }
}

/// Writes a masked client frame into `out`; returns its length, or `None` if `out` is too
/// small. `payload` must be at most [`MAX_CONTROL_PAYLOAD`] bytes for control opcodes.
pub fn encode_client_frame(out: &mut [u8], op: u8, payload: &[u8], mask: [u8; 4]) -> Option<usize> {
    let len = payload.len();
    let header = match len {
        0..=125 => 2,
        126..=0xFFFF => 4,
        _ => 10,
    } + 4;
    let total = header + len;
    let out = out.get_mut(..total)?;
    out[0] = 0x80 | (op & 0x0F);
    match len {
        0..=125 => out[1] = 0x80 | len as u8,
        126..=0xFFFF => {
            out[1] = 0x80 | 126;
            out[2..4].copy_from_slice(&(len as u16).to_be_bytes());
        }
        _ => {
            out[1] = 0x80 | 127;
            out[2..10].copy_from_slice(&(len as u64).to_be_bytes());
        }
    }
    out[header - 4..header].copy_from_slice(&mask);
    for (i, (o, p)) in out[header..].iter_mut().zip(payload).enumerate() {
        *o = p ^ mask[i & 3];
    }
    Some(total)
}

/// A fixed buffer of encoded client frames waiting for the socket.
pub struct FrameWriter {
    buf: Box<[u8]>,
    head: usize,
    tail: usize,
}

impl FrameWriter {
    /// A writer with room for `capacity` bytes of pending frames.
    pub fn new(capacity: usize) -> Self {
        Self {
            buf: vec![0; capacity].into_boxed_slice(),
            head: 0,
            tail: 0,
        }
    }

    /// Forgets anything pending (a new connection).
    pub fn reset(&mut self) {
        self.head = 0;
        self.tail = 0;
    }

    /// Queues one masked frame. `false` (nothing queued) if it does not fit.
    pub fn push(&mut self, op: u8, payload: &[u8], mask: [u8; 4]) -> bool {
        if self.head == self.tail {
            self.head = 0;
            self.tail = 0;
        } else if self.buf.len() - self.tail < MAX_HEADER + payload.len() {
            self.buf.copy_within(self.head..self.tail, 0);
            self.tail -= self.head;
            self.head = 0;
        }
        match encode_client_frame(&mut self.buf[self.tail..], op, payload, mask) {
            Some(n) => {
                self.tail += n;
                true
            }
            None => false,
        }
    }

    /// Bytes waiting to be written.
    pub fn pending(&self) -> &[u8] {
        &self.buf[self.head..self.tail]
    }

    /// Records that the socket took `n` pending bytes.
    pub fn consume(&mut self, n: usize) {
        self.head = (self.head + n).min(self.tail);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An unmasked server frame.
    fn server_frame(fin: bool, op: u8, payload: &[u8]) -> Vec<u8> {
        let mut v = vec![(if fin { 0x80 } else { 0 }) | op];
        match payload.len() {
            n @ 0..=125 => v.push(n as u8),
            n @ 126..=0xFFFF => {
                v.push(126);
                v.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                v.push(127);
                v.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        v.extend_from_slice(payload);
        v
    }

    /// Feeds `bytes` in chunks of `chunk` and collects every frame, copying payloads out.
    fn run(
        r: &mut FrameReader,
        bytes: &[u8],
        chunk: usize,
    ) -> Result<Vec<(String, Vec<u8>)>, ProtocolError> {
        let mut out = Vec::new();
        let mut fed = 0;
        loop {
            match r.next_frame()? {
                Frame::NeedData => {
                    if fed == bytes.len() {
                        return Ok(out);
                    }
                    let spare = r.spare();
                    let n = chunk.min(spare.len()).min(bytes.len() - fed);
                    spare[..n].copy_from_slice(&bytes[fed..fed + n]);
                    r.filled(n);
                    fed += n;
                }
                Frame::Message {
                    text,
                    loc,
                    fragmented,
                } => out.push((
                    format!(
                        "{}{}",
                        if text { "text" } else { "bin" },
                        if fragmented { "+frag" } else { "" }
                    ),
                    r.slice(loc).to_vec(),
                )),
                Frame::Ping(loc) => out.push(("ping".into(), r.slice(loc).to_vec())),
                Frame::Pong(loc) => out.push(("pong".into(), r.slice(loc).to_vec())),
                Frame::Close { code } => out.push(("close".into(), code.to_be_bytes().to_vec())),
            }
        }
    }

    #[test]
    fn every_length_form_and_chunking() {
        for len in [0usize, 1, 125, 126, 127, 65_535, 65_536, 200_000] {
            let payload: Vec<u8> = (0..len).map(|i| b'a' + (i % 26) as u8).collect();
            let wire = server_frame(true, OP_TEXT, &payload);
            let header = wire.len() - len;
            assert_eq!(
                header,
                if len < 126 {
                    2
                } else if len <= 0xFFFF {
                    4
                } else {
                    10
                }
            );
            for chunk in [1usize, 7, 4096, usize::MAX] {
                // A read buffer smaller than the biggest frame forces the streaming path.
                let mut r = FrameReader::new(64 * 1024, 1 << 20);
                let got = run(&mut r, &wire, chunk).unwrap();
                assert_eq!(got.len(), 1, "len {len} chunk {chunk}");
                assert_eq!(got[0].0, "text");
                assert_eq!(got[0].1, payload, "len {len} chunk {chunk}");
            }
        }
    }

    #[test]
    fn small_messages_are_zero_copy_and_many_fit_one_read() {
        let mut wire = Vec::new();
        for i in 0..100 {
            wire.extend(server_frame(
                true,
                OP_TEXT,
                format!("{{\"i\":{i}}}").as_bytes(),
            ));
        }
        let mut r = FrameReader::new(64 * 1024, 4096);
        assert!(r.preload(&wire));
        for i in 0..100 {
            match r.next_frame().unwrap() {
                Frame::Message {
                    loc: loc @ Loc::Read { .. },
                    text: true,
                    fragmented: false,
                } => {
                    assert_eq!(r.slice(loc), format!("{{\"i\":{i}}}").as_bytes())
                }
                f => panic!("{f:?}"),
            }
        }
        assert_eq!(r.next_frame().unwrap(), Frame::NeedData);
    }

    #[test]
    fn fragmented_message_with_interleaved_ping_and_pong() {
        let mut wire = server_frame(false, OP_TEXT, b"{\"a\":");
        wire.extend(server_frame(true, OP_PING, b"hb-1"));
        wire.extend(server_frame(false, OP_CONTINUATION, b"12"));
        wire.extend(server_frame(true, OP_PONG, b""));
        wire.extend(server_frame(true, OP_CONTINUATION, b"34}"));
        wire.extend(server_frame(true, OP_BINARY, &[0, 159, 146, 150]));
        for chunk in [1, 3, 1000] {
            let mut r = FrameReader::new(4096, 1024);
            let got = run(&mut r, &wire, chunk).unwrap();
            let want: Vec<(String, Vec<u8>)> = vec![
                ("ping".into(), b"hb-1".to_vec()),
                ("pong".into(), vec![]),
                ("text+frag".into(), b"{\"a\":1234}".to_vec()),
                ("bin".into(), vec![0, 159, 146, 150]),
            ];
            assert_eq!(got, want, "chunk {chunk}");
        }
    }

    #[test]
    fn masked_server_frame_is_rejected() {
        let mut wire = server_frame(true, OP_TEXT, b"hi");
        wire[1] |= 0x80;
        wire.splice(2..2, [1, 2, 3, 4]);
        let mut r = FrameReader::new(4096, 1024);
        assert_eq!(run(&mut r, &wire, 100), Err(ProtocolError::MaskedFrame));
    }

    #[test]
    fn bad_headers_are_rejected() {
        let cases: Vec<(Vec<u8>, ProtocolError)> = vec![
            (vec![0x80 | 0x40 | OP_TEXT, 0], ProtocolError::ReservedBits),
            (vec![0x83, 0], ProtocolError::ReservedOpcode(3)),
            (vec![0x8B, 0], ProtocolError::ReservedOpcode(0xB)),
            (vec![OP_PING, 0], ProtocolError::FragmentedControl),
            (
                vec![0x80 | OP_PING, 126, 0, 126],
                ProtocolError::ControlTooLong,
            ),
            (
                vec![0x80 | OP_TEXT, 127, 0x80, 0, 0, 0, 0, 0, 0, 1],
                ProtocolError::LengthOverflow,
            ),
            (
                server_frame(true, OP_CONTINUATION, b"x"),
                ProtocolError::UnexpectedContinuation,
            ),
            (
                [
                    server_frame(false, OP_TEXT, b"a"),
                    server_frame(true, OP_TEXT, b"b"),
                ]
                .concat(),
                ProtocolError::ExpectedContinuation,
            ),
            (
                server_frame(true, OP_TEXT, &[b'x'; 1025]),
                ProtocolError::MessageTooBig,
            ),
            (
                [
                    server_frame(false, OP_TEXT, &[b'x'; 600]),
                    server_frame(true, OP_CONTINUATION, &[b'x'; 600]),
                ]
                .concat(),
                ProtocolError::MessageTooBig,
            ),
            (
                server_frame(true, OP_TEXT, &[0xC3, 0x28]),
                ProtocolError::InvalidUtf8,
            ),
            (
                [
                    server_frame(false, OP_TEXT, &[0xE2, 0x82]),
                    server_frame(true, OP_CONTINUATION, &[0x28]),
                ]
                .concat(),
                ProtocolError::InvalidUtf8,
            ),
            (
                server_frame(true, OP_CLOSE, &[3]),
                ProtocolError::BadClosePayload,
            ),
        ];
        for (wire, want) in cases {
            let mut r = FrameReader::new(4096, 1024);
            assert_eq!(run(&mut r, &wire, 5), Err(want), "{wire:?}");
        }
    }

    #[test]
    fn utf8_split_across_fragments_is_accepted() {
        let euro = "€".as_bytes();
        let wire = [
            server_frame(false, OP_TEXT, &euro[..1]),
            server_frame(true, OP_CONTINUATION, &euro[1..]),
        ]
        .concat();
        let mut r = FrameReader::new(4096, 1024);
        assert_eq!(
            run(&mut r, &wire, 2).unwrap(),
            vec![("text+frag".to_string(), euro.to_vec())]
        );
    }

    #[test]
    fn close_frames() {
        let mut r = FrameReader::new(4096, 1024);
        let mut wire = server_frame(true, OP_CLOSE, &[0x03, 0xE8, b'b', b'y', b'e']);
        wire.extend(server_frame(true, OP_CLOSE, &[]));
        let got = run(&mut r, &wire, 3).unwrap();
        assert_eq!(
            got[0],
            ("close".to_string(), 1000u16.to_be_bytes().to_vec())
        );
        assert_eq!(
            got[1],
            ("close".to_string(), CLOSE_NO_STATUS.to_be_bytes().to_vec())
        );
    }

    #[test]
    fn client_frames_are_masked_in_every_length_form() {
        let mask = [0x37, 0xFA, 0x21, 0x3D];
        for len in [0usize, 5, 125, 126, 65_535, 65_536] {
            let payload: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let mut out = vec![0; len + MAX_HEADER];
            let n = encode_client_frame(&mut out, OP_TEXT, &payload, mask).unwrap();
            assert_eq!(out[0], 0x81);
            assert_eq!(out[1] & 0x80, 0x80, "mask bit");
            let (header, got_len) = match out[1] & 0x7F {
                126 => (4, u16::from_be_bytes([out[2], out[3]]) as usize),
                127 => (
                    10,
                    u64::from_be_bytes(out[2..10].try_into().unwrap()) as usize,
                ),
                l => (2, l as usize),
            };
            assert_eq!(got_len, len);
            assert_eq!(n, header + 4 + len);
            assert_eq!(out[header..header + 4], mask);
            let unmasked: Vec<u8> = out[header + 4..n]
                .iter()
                .enumerate()
                .map(|(i, b)| b ^ mask[i % 4])
                .collect();
            assert_eq!(unmasked, payload);
        }
        // RFC 6455 §5.7: a masked "Hello".
        let mut out = [0u8; 11];
        encode_client_frame(&mut out, OP_TEXT, b"Hello", mask).unwrap();
        assert_eq!(
            out,
            [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]
        );
        assert_eq!(
            encode_client_frame(&mut [0u8; 10], OP_TEXT, b"Hello", mask),
            None
        );
    }

    #[test]
    fn writer_queues_and_compacts() {
        let mut w = FrameWriter::new(64);
        assert!(w.push(OP_PONG, b"abc", [0; 4]));
        assert_eq!(w.pending().len(), 2 + 4 + 3);
        w.consume(4);
        assert!(w.push(OP_PING, &[1; 40], [1; 4]));
        assert_eq!(w.pending().len(), 5 + 46);
        assert!(!w.push(OP_PING, &[1; 40], [1; 4]), "no room");
        w.consume(usize::MAX);
        assert!(w.pending().is_empty());
        assert!(w.push(OP_PING, &[1; 40], [1; 4]));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]
        #[test]
        fn random_bytes_never_panic(
            bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600),
            chunk in 1usize..64,
            max in 0usize..300,
        ) {
            let mut r = FrameReader::new(0, max);
            let _ = run(&mut r, &bytes, chunk);
        }

        #[test]
        fn valid_frames_with_random_flips_never_panic(
            seed_frames in proptest::collection::vec((0u8..16, proptest::prelude::any::<bool>(), 0usize..300), 1..8),
            flips in proptest::collection::vec((0usize..4000, proptest::prelude::any::<u8>()), 0..4),
            chunk in 1usize..512,
        ) {
            let mut wire = Vec::new();
            for (op, fin, len) in seed_frames {
                wire.extend(server_frame(fin, op, &vec![b'z'; len]));
            }
            for (at, x) in flips {
                if !wire.is_empty() {
                    let i = at % wire.len();
                    wire[i] ^= x;
                }
            }
            let mut r = FrameReader::new(0, 256);
            let _ = run(&mut r, &wire, chunk);
        }
    }
}
