//! A minimal WebSocket client over a tokio `TcpStream`, for the fan-out tests and benchmark:
//! it can shrink its receive buffer (a client that stops reading fills up fast), send frames
//! a normal client never would (unmasked, reserved opcodes), and parse incoming frames in
//! place without allocating (the benchmark's subscriber fleet reads millions of them).
//! Client frames are masked with a fixed key: fine for tests, not for the open internet.

#![allow(dead_code)]

use std::{io, net::SocketAddr};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpSocket, TcpStream},
};

pub const OP_CONTINUATION: u8 = 0x0;
pub const OP_TEXT: u8 = 0x1;
pub const OP_BINARY: u8 = 0x2;
pub const OP_CLOSE: u8 = 0x8;
pub const OP_PING: u8 = 0x9;
pub const OP_PONG: u8 = 0xA;

const MASK: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];
const INITIAL_BUFFER: usize = 16 << 10;

/// A refused upgrade: the HTTP answer.
#[derive(Debug)]
pub struct Refused {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Refused {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A frame received, owned.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    Text(String),
    Binary(Vec<u8>),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    Close(Option<u16>, String),
}

/// A frame received, borrowed from the read buffer (valid until the next read).
#[derive(Debug, Clone, Copy)]
pub struct FrameRef {
    pub opcode: u8,
    pub fin: bool,
    start: usize,
    end: usize,
}

pub struct RawWs {
    stream: TcpStream,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// Answer pings with pongs while reading owned frames (`next`).
    pub answer_pings: bool,
}

impl RawWs {
    /// Opens a connection and asks for the upgrade of `target` (path and query).
    /// `recv_buffer` shrinks the socket's receive buffer before connecting.
    pub async fn connect(
        addr: SocketAddr,
        target: &str,
        headers: &[(&str, &str)],
        recv_buffer: Option<u32>,
    ) -> io::Result<Result<RawWs, Refused>> {
        let socket = if addr.is_ipv4() {
            TcpSocket::new_v4()?
        } else {
            TcpSocket::new_v6()?
        };
        if let Some(size) = recv_buffer {
            socket.set_recv_buffer_size(size)?;
        }
        let stream = socket.connect(addr).await?;
        stream.set_nodelay(true)?;
        let mut request = format!(
            "GET {target} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        );
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        request.push_str("\r\n");
        let mut ws = RawWs {
            stream,
            buf: vec![0; INITIAL_BUFFER],
            start: 0,
            end: 0,
            answer_pings: true,
        };
        ws.stream.write_all(request.as_bytes()).await?;
        let head_end = loop {
            if let Some(at) = find(&ws.buf[..ws.end], b"\r\n\r\n") {
                break at + 4;
            }
            if ws.fill().await? == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "connection closed during the handshake",
                ));
            }
        };
        let head = String::from_utf8_lossy(&ws.buf[..head_end]).into_owned();
        let mut lines = head.split("\r\n");
        let status: u16 = lines
            .next()
            .and_then(|l| l.split(' ').nth(1))
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "bad status line"))?;
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
            .collect();
        ws.start = head_end;
        if status == 101 {
            return Ok(Ok(ws));
        }
        let length: usize = headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        while ws.end - ws.start < length {
            if ws.fill().await? == 0 {
                break;
            }
        }
        let body_end = (ws.start + length).min(ws.end);
        let body = String::from_utf8_lossy(&ws.buf[ws.start..body_end]).into_owned();
        Ok(Err(Refused {
            status,
            headers,
            body,
        }))
    }

    /// Reads more bytes into the buffer; 0 means the peer closed.
    pub async fn fill(&mut self) -> io::Result<usize> {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        } else if self.start > 0 && self.buf.len() - self.end < self.buf.len() / 4 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.end == self.buf.len() {
            let len = self.buf.len();
            self.buf.resize(len * 2, 0);
        }
        let n = self.stream.read(&mut self.buf[self.end..]).await?;
        self.end += n;
        Ok(n)
    }

    /// The next complete frame already in the buffer, without reading.
    pub fn parse_buffered(&mut self) -> Option<FrameRef> {
        let data = &self.buf[self.start..self.end];
        if data.len() < 2 {
            return None;
        }
        let fin = data[0] & 0x80 != 0;
        let opcode = data[0] & 0x0f;
        let masked = data[1] & 0x80 != 0;
        let (len, mut header) = match data[1] & 0x7f {
            126 if data.len() >= 4 => (u16::from_be_bytes([data[2], data[3]]) as usize, 4),
            127 if data.len() >= 10 => (
                u64::from_be_bytes(data[2..10].try_into().ok()?) as usize,
                10,
            ),
            126 | 127 => return None,
            len => (len as usize, 2),
        };
        if masked {
            header += 4;
        }
        if data.len() < header + len {
            if header + len > self.buf.len() {
                // Make room for a frame larger than the buffer.
                let needed = header + len;
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
                self.buf.resize(needed.next_power_of_two(), 0);
            }
            return None;
        }
        let frame = FrameRef {
            opcode,
            fin,
            start: self.start + header,
            end: self.start + header + len,
        };
        self.start += header + len;
        Some(frame)
    }

    /// The payload of a frame returned by `parse_buffered` (before the next read).
    pub fn payload(&self, frame: &FrameRef) -> &[u8] {
        &self.buf[frame.start..frame.end]
    }

    /// The next frame, owned; answers pings when `answer_pings`. `None`: the peer closed.
    pub async fn next(&mut self) -> io::Result<Option<Frame>> {
        loop {
            if let Some(frame) = self.parse_buffered() {
                let payload = self.payload(&frame).to_vec();
                let owned =
                    match frame.opcode {
                        OP_TEXT => Frame::Text(String::from_utf8(payload).map_err(|e| {
                            io::Error::new(io::ErrorKind::InvalidData, e.to_string())
                        })?),
                        OP_BINARY => Frame::Binary(payload),
                        OP_PING => {
                            if self.answer_pings {
                                self.send(OP_PONG, &payload).await?;
                            }
                            Frame::Ping(payload)
                        }
                        OP_PONG => Frame::Pong(payload),
                        OP_CLOSE => {
                            let code = (payload.len() >= 2)
                                .then(|| u16::from_be_bytes([payload[0], payload[1]]));
                            let reason = String::from_utf8_lossy(payload.get(2..).unwrap_or(&[]))
                                .into_owned();
                            Frame::Close(code, reason)
                        }
                        other => {
                            return Err(io::Error::new(
                                io::ErrorKind::InvalidData,
                                format!("unexpected opcode {other}"),
                            ));
                        }
                    };
                return Ok(Some(owned));
            }
            if self.fill().await? == 0 {
                return Ok(None);
            }
        }
    }

    /// Sends one masked, final frame.
    pub async fn send(&mut self, opcode: u8, payload: &[u8]) -> io::Result<()> {
        self.send_frame(opcode, true, true, payload).await
    }

    pub async fn send_text(&mut self, text: &str) -> io::Result<()> {
        self.send(OP_TEXT, text.as_bytes()).await
    }

    /// Sends a frame as given (`masked: false` breaks the protocol on purpose).
    pub async fn send_frame(
        &mut self,
        opcode: u8,
        fin: bool,
        masked: bool,
        payload: &[u8],
    ) -> io::Result<()> {
        let mut frame = Vec::with_capacity(payload.len() + 14);
        frame.push(if fin { 0x80 } else { 0 } | opcode);
        let mask_bit = if masked { 0x80 } else { 0 };
        match payload.len() {
            len @ 0..=125 => frame.push(mask_bit | len as u8),
            len @ 126..=0xffff => {
                frame.push(mask_bit | 126);
                frame.extend_from_slice(&(len as u16).to_be_bytes());
            }
            len => {
                frame.push(mask_bit | 127);
                frame.extend_from_slice(&(len as u64).to_be_bytes());
            }
        }
        if masked {
            frame.extend_from_slice(&MASK);
            frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ MASK[i % 4]));
        } else {
            frame.extend_from_slice(payload);
        }
        self.stream.write_all(&frame).await
    }

    /// Writes raw bytes (garbage on purpose).
    pub async fn send_raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes).await
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
