//! Docker's multiplexed stream format: 8-byte headers `[stream, 0, 0, 0, size (big-endian u32)]` before each chunk,
//! used by logs, attach and exec when the container has no TTY.

use bytes::{Buf, Bytes, BytesMut};

/// One demultiplexed chunk of output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// 0 stdin, 1 stdout, 2 stderr (as on the wire).
    pub stream: u8,
    /// The payload.
    pub data: Bytes,
}

/// Incremental decoder: push bytes as they arrive, pop whole frames.
#[derive(Debug, Default)]
pub struct FrameDecoder {
    buf: BytesMut,
}

const HEADER_LEN: usize = 8;

impl FrameDecoder {
    /// A decoder with an empty buffer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends received bytes.
    pub fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// The next complete frame, if the buffer holds one.
    pub fn next_frame(&mut self) -> Option<Frame> {
        if self.buf.len() < HEADER_LEN {
            return None;
        }
        let size =
            u32::from_be_bytes([self.buf[4], self.buf[5], self.buf[6], self.buf[7]]) as usize;
        if self.buf.len() < HEADER_LEN + size {
            return None;
        }
        let stream = self.buf[0];
        self.buf.advance(HEADER_LEN);
        let data = self.buf.split_to(size).freeze();
        Some(Frame { stream, data })
    }

    /// Bytes of an incomplete frame left when the stream ended.
    pub fn pending(&self) -> usize {
        self.buf.len()
    }
}

/// Encodes one frame (used by tests and by anything that must speak the format).
pub fn encode_frame(stream: u8, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + data.len());
    out.extend_from_slice(&[stream, 0, 0, 0]);
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    out.extend_from_slice(data);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_frames_split_anywhere() {
        let mut wire = encode_frame(1, b"hello\n");
        wire.extend(encode_frame(2, b"oops\n"));
        wire.extend(encode_frame(1, b""));
        for cut in 0..wire.len() {
            let mut d = FrameDecoder::new();
            let mut got = Vec::new();
            d.push(&wire[..cut]);
            while let Some(f) = d.next_frame() {
                got.push(f);
            }
            d.push(&wire[cut..]);
            while let Some(f) = d.next_frame() {
                got.push(f);
            }
            assert_eq!(got.len(), 3, "cut at {cut}");
            assert_eq!(
                got[0],
                Frame {
                    stream: 1,
                    data: Bytes::from_static(b"hello\n")
                }
            );
            assert_eq!(got[1].stream, 2);
            assert_eq!(&got[1].data[..], b"oops\n");
            assert_eq!(d.pending(), 0);
        }
    }

    #[test]
    fn header_layout_is_dockers() {
        assert_eq!(
            encode_frame(2, b"ab"),
            vec![2, 0, 0, 0, 0, 0, 0, 2, b'a', b'b']
        );
    }
}
