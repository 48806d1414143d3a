//! The WebSocket response body, handed to actix-http in slices of at most [`SLICE_BYTES`].
//!
//! actix-ws encodes every message queued for a connection into one buffer and yields it as
//! one chunk; actix-http copies each chunk into the connection's write buffer, which keeps its
//! largest size for as long as the connection lives. A catch-up (a snapshot of every agent) is
//! queued at once, so without slicing each connection kept a write buffer the size of a whole
//! snapshot: 1,000 subscribers of a 1,000-agent org held ~600 MB. Slicing the chunk (without
//! copying: `Bytes::split_to`) bounds that buffer to actix-http's high-water mark plus a slice.

use std::{
    pin::Pin,
    task::{Context, Poll},
};

use actix_web::body::{BodySize, BoxBody, MessageBody};
use bytes::Bytes;

/// Largest piece handed to actix-http at once.
pub const SLICE_BYTES: usize = 16 << 10;

/// Wraps a response body so that no chunk it yields is larger than [`SLICE_BYTES`].
pub struct Sliced {
    inner: BoxBody,
    rest: Bytes,
}

impl Sliced {
    pub fn new(inner: BoxBody) -> Self {
        Self {
            inner,
            rest: Bytes::new(),
        }
    }

    fn next_slice(&mut self) -> Bytes {
        let take = self.rest.len().min(SLICE_BYTES);
        self.rest.split_to(take)
    }
}

impl MessageBody for Sliced {
    type Error = Box<dyn std::error::Error>;

    fn size(&self) -> BodySize {
        BodySize::Stream
    }

    fn poll_next(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        let this = self.get_mut();
        if !this.rest.is_empty() {
            return Poll::Ready(Some(Ok(this.next_slice())));
        }
        match Pin::new(&mut this.inner).poll_next(cx) {
            Poll::Ready(Some(Ok(chunk))) if chunk.len() > SLICE_BYTES => {
                this.rest = chunk;
                Poll::Ready(Some(Ok(this.next_slice())))
            }
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::pin::pin;

    use futures_util::stream;

    use super::*;

    #[actix_rt::test]
    async fn large_chunks_come_out_in_slices_and_small_ones_whole_in_order() {
        let big: Bytes = (0..(SLICE_BYTES * 2 + 10))
            .map(|i| (i % 251) as u8)
            .collect();
        let chunks = vec![
            Ok::<_, std::io::Error>(Bytes::from_static(b"small")),
            Ok(big.clone()),
            Ok(Bytes::from_static(b"tail")),
        ];
        let body = Sliced::new(BoxBody::new(actix_web::body::BodyStream::new(
            stream::iter(chunks),
        )));
        let mut body = pin!(body);
        let mut out = Vec::new();
        while let Some(chunk) = std::future::poll_fn(|cx| body.as_mut().poll_next(cx)).await {
            out.push(chunk.expect("no error"));
        }
        let sizes: Vec<usize> = out.iter().map(Bytes::len).collect();
        assert_eq!(sizes, [5, SLICE_BYTES, SLICE_BYTES, 10, 4]);
        let joined: Vec<u8> = out.iter().flat_map(|b| b.iter().copied()).collect();
        let mut expected = b"small".to_vec();
        expected.extend_from_slice(&big);
        expected.extend_from_slice(b"tail");
        assert_eq!(joined, expected);
    }
}
