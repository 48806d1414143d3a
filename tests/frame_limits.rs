//! A WebSocket frame whose header declares more than the limit is refused at the header, on
//! both sockets agentcast reads: a subscriber's (closed 1009) and the Genesys channel's (a
//! protocol error, then a reconnect). The peer keeps sending after the header; the process's
//! resident memory must not follow it.

mod common;

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use actix_web::{
    App, HttpRequest, HttpServer,
    body::{BodyStream, BoxBody},
    web,
};

use agentcast::frame_limit::{Header, parse_header};
use awc::error::WsProtocolError;
use bytes::Bytes;
use common::fanout::{ALL_KEY, TestServer};
use futures_util::StreamExt;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpStream, tcp::OwnedReadHalf},
};

/// What a peer sends after the oversized header, at most.
const FLOOD_BYTES: usize = 256 << 20;
/// How much resident memory may grow meanwhile: far below the flood, well above noise.
const RSS_SLACK_BYTES: u64 = 48 << 20;
/// Every wait.
const WAIT: Duration = Duration::from_secs(60);

/// This process's resident set, in bytes.
fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let kib: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("a VmRSS line");
    kib * 1024
}

/// A text frame header declaring 1 TiB (masked when a client sends it).
fn huge_header(masked: bool) -> Vec<u8> {
    let mut header = vec![0x81, if masked { 0x80 | 127 } else { 127 }];
    header.extend_from_slice(&(1u64 << 40).to_be_bytes());
    if masked {
        header.extend_from_slice(&[1, 2, 3, 4]);
    }
    header
}

/// Writes `header`, then filler until `FLOOD_BYTES` or the peer stops taking it.
async fn flood(mut writer: impl AsyncWriteExt + Unpin, header: Vec<u8>) -> usize {
    let filler = vec![b'x'; 1 << 20];
    if writer.write_all(&header).await.is_err() {
        return 0;
    }
    let mut sent = 0;
    while sent < FLOOD_BYTES {
        if writer.write_all(&filler).await.is_err() {
            break;
        }
        sent += filler.len();
    }
    sent
}

/// Reads server frames (unmasked) until a close frame; its code.
async fn close_code(mut reader: OwnedReadHalf, mut buf: Vec<u8>) -> Option<u16> {
    let mut chunk = [0u8; 16 << 10];
    loop {
        while let Header::Declares {
            header_len,
            payload_len,
        } = parse_header(&buf)
        {
            let end = header_len + payload_len as usize;
            if buf.len() < end {
                break;
            }
            if buf[0] & 0x0f == 0x8 {
                let payload = &buf[header_len..end];
                return (payload.len() >= 2).then(|| u16::from_be_bytes([payload[0], payload[1]]));
            }
            buf.drain(..end);
        }
        match reader.read(&mut chunk).await {
            Ok(0) | Err(_) => panic!("the connection ended without a close frame"),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

#[actix_rt::test]
async fn a_subscriber_declaring_a_huge_frame_is_closed_1009_without_buffering_it() {
    let server = TestServer::start(common::fanout::settings()).await;
    let mut stream = TcpStream::connect(server.addr).await.expect("connect");
    let request = format!(
        "GET /v1/subscribe HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
         Authorization: Bearer {ALL_KEY}\r\n\r\n",
        server.addr
    );
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        let n = stream.read(&mut chunk).await.expect("read the handshake");
        assert!(n > 0, "the server hung up during the handshake");
        buf.extend_from_slice(&chunk[..n]);
        if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
    };
    assert!(
        buf.starts_with(b"HTTP/1.1 101"),
        "{:?}",
        String::from_utf8_lossy(&buf)
    );
    let frames = buf.split_off(head_end);

    let before = rss_bytes();
    let (reader, writer) = stream.into_split();
    let flooding = actix_rt::spawn(flood(writer, huge_header(true)));
    let code = tokio::time::timeout(WAIT, close_code(reader, frames))
        .await
        .expect("a close frame while the client is still sending");
    let grown = rss_bytes().saturating_sub(before);
    let sent = tokio::time::timeout(WAIT, flooding)
        .await
        .expect("the flood ends once the server hangs up")
        .expect("the flood task");

    // The server may read and discard what follows (actix-http drains an abandoned request
    // body); it must not keep it.
    assert_eq!(code, Some(1009));
    assert!(
        grown < RSS_SLACK_BYTES,
        "resident memory grew by {grown} bytes while the client sent {sent}"
    );
    assert_eq!(
        server
            .metrics
            .registry()
            .gather()
            .iter()
            .find(|family| family.name() == "agentcast_subscriber_disconnects_total")
            .and_then(|family| {
                family.get_metric().iter().find(|metric| {
                    metric
                        .get_label()
                        .iter()
                        .any(|label| label.value() == "too_big")
                })
            })
            .map(|metric| metric.get_counter().get_value()),
        Some(1.0),
        "the disconnect is counted as too_big"
    );
    server.stop().await;
}

#[actix_rt::test]
async fn an_upstream_frame_declared_over_max_frame_bytes_fails_before_its_payload_arrives() {
    // A streaming host that upgrades, then declares a 1 TiB frame and keeps sending (counting
    // the chunks its connection takes).
    let taken = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&taken);
    let host = HttpServer::new(move || {
        let counter = Arc::clone(&counter);
        App::new().route(
            "/v1/channels/huge",
            web::get().to(move |req: HttpRequest, body: web::Payload| {
                let counter = Arc::clone(&counter);
                async move {
                    let (response, _session, _messages) = actix_ws::handle(&req, body)?;
                    let filler = Bytes::from(vec![b'x'; 1 << 20]);
                    let chunks = std::iter::once(Bytes::from(huge_header(false)))
                        .chain(std::iter::repeat_n(filler, FLOOD_BYTES >> 20))
                        .map(move |chunk| {
                            counter.fetch_add(chunk.len(), Ordering::Relaxed);
                            Ok::<_, std::io::Error>(chunk)
                        });
                    Ok::<_, actix_web::Error>(response.map_body(|_, _| {
                        BoxBody::new(BodyStream::new(futures_util::stream::iter(chunks)))
                    }))
                }
            }),
        )
    })
    .workers(1)
    .disable_signals()
    .bind(("127.0.0.1", 0))
    .expect("bind 127.0.0.1:0");
    let addr = host.addrs()[0];
    let host = host.run();
    let host_handle = host.handle();
    actix_rt::spawn(host);

    let sim = common::sim::TestSim::start(1, |_| {});
    let client = sim.client();
    let mut socket = client
        .connect_channel(&format!("ws://{addr}/v1/channels/huge"), 1 << 20)
        .await
        .expect("the upgrade succeeds");
    let before = rss_bytes();
    let first = tokio::time::timeout(WAIT, socket.next())
        .await
        .expect("the socket fails while the host is still sending");
    let grown = rss_bytes().saturating_sub(before);
    drop(socket);
    host_handle.stop(false).await;
    let sent = taken.load(Ordering::Relaxed);

    assert!(
        matches!(first, Some(Err(WsProtocolError::Overflow))),
        "{first:?}"
    );
    assert!(
        sent < FLOOD_BYTES,
        "the client took all {FLOOD_BYTES} bytes of a refused frame"
    );
    assert!(
        grown < RSS_SLACK_BYTES,
        "resident memory grew by {grown} bytes while the host sent {sent}"
    );
}
