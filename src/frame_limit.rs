//! WebSocket frame limits enforced on the frame *header*, before the payload arrives.
//!
//! actix-http's WebSocket parser checks a frame's length against its `max_size` only once the
//! whole payload is buffered (it answers "need more data" first), and both actix-ws's message
//! stream and awc's framed reader keep appending what they read meanwhile: a peer declaring a
//! 1 TiB frame could make either side buffer without bound. Here the declared length is read
//! from the header (RFC 6455 §5.2) as soon as its bytes are in, and a frame over the limit is
//! refused before any of its payload is buffered:
//!
//! - [`PayloadGuard`] wraps a server request payload (a subscriber's socket): it passes bytes
//!   through unchanged while following frame boundaries, and ends with
//!   [`PayloadError::Overflow`] at an oversized header ([`is_overflow`] recognises it after
//!   actix-ws wraps it in an `io::Error`);
//! - [`BoundedCodec`] wraps the client codec of an outbound socket (the Genesys channel) and
//!   fails with [`ProtocolError::Overflow`] at an oversized header.

use std::{
    io,
    pin::Pin,
    task::{Context, Poll},
};

use actix_codec::{Decoder, Encoder};
use actix_web::error::PayloadError;
use awc::{
    error::WsProtocolError as ProtocolError,
    ws::{Codec, Frame, Message},
};
use bytes::{Bytes, BytesMut};
use futures_util::Stream;

/// The longest frame header: 2 bytes, an 8-byte extended length and a 4-byte mask.
const MAX_HEADER_LEN: usize = 14;

/// What the first bytes of a frame say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Header {
    /// Not enough bytes yet to know the payload length.
    Incomplete,
    /// The header is `header_len` bytes (mask included) and declares `payload_len` bytes.
    Declares { header_len: usize, payload_len: u64 },
}

/// Reads the declared payload length from the start of a frame.
pub fn parse_header(bytes: &[u8]) -> Header {
    let [_, second, rest @ ..] = bytes else {
        return Header::Incomplete;
    };
    let mask_len = if second & 0x80 == 0 { 0 } else { 4 };
    let (extended_len, payload_len) = match second & 0x7f {
        126 => match rest {
            [a, b, ..] => (2, u64::from(u16::from_be_bytes([*a, *b]))),
            _ => return Header::Incomplete,
        },
        127 => match rest.first_chunk::<8>() {
            Some(len) => (8, u64::from_be_bytes(*len)),
            None => return Header::Incomplete,
        },
        short => (0, u64::from(short)),
    };
    Header::Declares {
        header_len: 2 + extended_len + mask_len,
        payload_len,
    }
}

/// Whether an error from actix-ws's message stream is [`PayloadGuard`]'s refusal.
pub fn is_overflow(err: &io::Error) -> bool {
    err.get_ref()
        .and_then(|inner| inner.downcast_ref::<PayloadError>())
        .is_some_and(|inner| matches!(inner, PayloadError::Overflow))
}

/// Where the guard is in the byte stream.
#[derive(Debug)]
enum Position {
    /// Reading a header: the bytes seen so far.
    Header {
        bytes: [u8; MAX_HEADER_LEN],
        len: usize,
    },
    /// Inside a payload: this many bytes are left.
    Payload(u64),
    /// An oversized header was seen: the bytes before it went through; the error is next.
    Refusing,
    /// The error was given; the stream is over.
    Done,
}

/// A request payload that ends with [`PayloadError::Overflow`] as soon as a frame header
/// declares more than `max_frame_bytes`; see the module docs.
pub struct PayloadGuard<S> {
    inner: S,
    max_frame_bytes: u64,
    position: Position,
}

impl<S> PayloadGuard<S> {
    pub fn new(inner: S, max_frame_bytes: usize) -> Self {
        Self {
            inner,
            max_frame_bytes: max_frame_bytes as u64,
            position: Position::Header {
                bytes: [0; MAX_HEADER_LEN],
                len: 0,
            },
        }
    }

    /// As the request payload actix-web extractors (and actix-ws) take.
    pub fn into_payload(self) -> actix_web::dev::Payload
    where
        S: Stream<Item = Result<Bytes, PayloadError>> + Unpin + 'static,
    {
        let stream: Pin<Box<dyn Stream<Item = Result<Bytes, PayloadError>>>> = Box::pin(self);
        actix_web::dev::Payload::Stream { payload: stream }
    }

    /// Follows the frames in `chunk`; `Some(n)`: a header starting at `n` is over the limit.
    fn scan(&mut self, chunk: &[u8]) -> Option<usize> {
        let mut at = 0;
        while at < chunk.len() {
            match &mut self.position {
                Position::Payload(left) => {
                    let step = (*left).min((chunk.len() - at) as u64);
                    *left -= step;
                    at += step as usize;
                    if *left == 0 {
                        self.position = Position::Header {
                            bytes: [0; MAX_HEADER_LEN],
                            len: 0,
                        };
                    }
                }
                Position::Header { bytes, len } => {
                    let started_here = at.checked_sub(*len);
                    bytes[*len] = chunk[at];
                    *len += 1;
                    at += 1;
                    if let Header::Declares {
                        header_len,
                        payload_len,
                    } = parse_header(&bytes[..*len])
                    {
                        if payload_len > self.max_frame_bytes {
                            // The header's first bytes may have gone out in an earlier chunk.
                            return Some(started_here.unwrap_or(0));
                        }
                        if *len == header_len {
                            self.position = if payload_len == 0 {
                                Position::Header {
                                    bytes: [0; MAX_HEADER_LEN],
                                    len: 0,
                                }
                            } else {
                                Position::Payload(payload_len)
                            };
                        }
                    }
                }
                Position::Refusing | Position::Done => return Some(at),
            }
        }
        None
    }
}

impl<S> Stream for PayloadGuard<S>
where
    S: Stream<Item = Result<Bytes, PayloadError>> + Unpin,
{
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        match self.position {
            Position::Refusing => {
                self.position = Position::Done;
                return Poll::Ready(Some(Err(PayloadError::Overflow)));
            }
            Position::Done => return Poll::Ready(None),
            _ => {}
        }
        let chunk = match Pin::new(&mut self.inner).poll_next(cx) {
            Poll::Ready(Some(Ok(chunk))) => chunk,
            other => return other,
        };
        match self.scan(&chunk) {
            None => Poll::Ready(Some(Ok(chunk))),
            Some(0) => {
                self.position = Position::Done;
                Poll::Ready(Some(Err(PayloadError::Overflow)))
            }
            Some(valid) => {
                self.position = Position::Refusing;
                Poll::Ready(Some(Ok(chunk.slice(..valid))))
            }
        }
    }
}

/// actix-http's WebSocket codec, refusing an oversized frame at its header.
pub struct BoundedCodec {
    inner: Codec,
    max_frame_bytes: u64,
}

impl BoundedCodec {
    /// Wraps `inner`, which should have the same `max_size` (it checks complete frames).
    pub fn new(inner: Codec, max_frame_bytes: usize) -> Self {
        Self {
            inner,
            max_frame_bytes: max_frame_bytes as u64,
        }
    }
}

impl Decoder for BoundedCodec {
    type Item = Frame;
    type Error = ProtocolError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Frame>, ProtocolError> {
        if let Header::Declares { payload_len, .. } = parse_header(src)
            && payload_len > self.max_frame_bytes
        {
            return Err(ProtocolError::Overflow);
        }
        self.inner.decode(src)
    }
}

impl Encoder<Message> for BoundedCodec {
    type Error = ProtocolError;

    fn encode(&mut self, item: Message, dst: &mut BytesMut) -> Result<(), ProtocolError> {
        self.inner.encode(item, dst)
    }
}

#[cfg(test)]
mod tests {
    use futures_util::{StreamExt, stream};

    use super::*;

    /// A masked client frame header declaring `len` bytes.
    fn header(len: u64) -> Vec<u8> {
        let mut bytes = vec![0x81];
        match len {
            0..=125 => bytes.push(0x80 | len as u8),
            126..=0xffff => {
                bytes.push(0x80 | 126);
                bytes.extend_from_slice(&(len as u16).to_be_bytes());
            }
            _ => {
                bytes.push(0x80 | 127);
                bytes.extend_from_slice(&len.to_be_bytes());
            }
        }
        bytes.extend_from_slice(&[1, 2, 3, 4]);
        bytes
    }

    fn frame(len: usize) -> Vec<u8> {
        let mut bytes = header(len as u64);
        bytes.resize(bytes.len() + len, b'x');
        bytes
    }

    async fn run(chunks: Vec<Vec<u8>>, limit: usize) -> (Vec<u8>, bool) {
        let input = stream::iter(
            chunks
                .into_iter()
                .map(|c| Ok::<_, PayloadError>(Bytes::from(c))),
        );
        let mut guard = PayloadGuard::new(input, limit);
        let mut passed = Vec::new();
        while let Some(item) = guard.next().await {
            match item {
                Ok(bytes) => passed.extend_from_slice(&bytes),
                Err(PayloadError::Overflow) => return (passed, true),
                Err(other) => panic!("unexpected {other}"),
            }
        }
        (passed, false)
    }

    #[test]
    fn headers_declare_their_length_as_soon_as_it_is_in() {
        assert_eq!(parse_header(&[0x81]), Header::Incomplete);
        assert_eq!(
            parse_header(&header(5)[..2]),
            Header::Declares {
                header_len: 6,
                payload_len: 5
            }
        );
        assert_eq!(parse_header(&header(300)[..3]), Header::Incomplete);
        assert_eq!(
            parse_header(&header(1 << 40)[..10]),
            Header::Declares {
                header_len: 14,
                payload_len: 1 << 40
            }
        );
        // Unmasked (server to client): no mask bytes.
        assert_eq!(
            parse_header(&[0x82, 126, 0x01, 0x00]),
            Header::Declares {
                header_len: 4,
                payload_len: 256
            }
        );
    }

    #[actix_rt::test]
    async fn frames_within_the_limit_pass_unchanged_however_they_are_split() {
        let bytes: Vec<u8> = [frame(0), frame(10), frame(200), frame(64)].concat();
        for split in [1, 3, 7, 13, 64, bytes.len()] {
            let chunks = bytes.chunks(split).map(<[u8]>::to_vec).collect();
            assert_eq!(
                run(chunks, 200).await,
                (bytes.clone(), false),
                "split {split}"
            );
        }
    }

    #[actix_rt::test]
    async fn an_oversized_header_ends_the_stream_before_its_payload() {
        let valid = frame(10);
        let mut bytes = [valid.clone(), header(1 << 40)].concat();
        bytes.extend_from_slice(&[b'x'; 1000]);
        for split in [1, 5, 16, bytes.len()] {
            let chunks = bytes.chunks(split).map(<[u8]>::to_vec).collect();
            let (passed, refused) = run(chunks, 64).await;
            assert!(refused, "split {split}");
            // What went through is the valid frame and at most the header's first bytes.
            assert!(passed.starts_with(&valid), "split {split}");
            assert!(passed.len() < valid.len() + MAX_HEADER_LEN, "split {split}");
        }
    }

    #[test]
    fn the_codec_refuses_an_oversized_header_with_a_partial_payload() {
        let mut codec = BoundedCodec::new(Codec::new().max_size(64).client_mode(), 64);
        let mut src = BytesMut::from(&[0x81, 127][..]);
        src.extend_from_slice(&(1u64 << 40).to_be_bytes());
        src.extend_from_slice(&[b'x'; 100]);
        assert!(matches!(
            codec.decode(&mut src),
            Err(ProtocolError::Overflow)
        ));

        let mut src = BytesMut::from(&[0x81, 2, b'h', b'i'][..]);
        assert!(matches!(codec.decode(&mut src), Ok(Some(Frame::Text(t))) if &t[..] == b"hi"));
    }
}
