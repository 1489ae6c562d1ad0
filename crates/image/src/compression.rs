//! Detects a layer's compression from its magic bytes and wraps the stream in the matching
//! decoder, so layers apply the same way whatever their media type claims.

use std::io::{self, Cursor, Read};

/// The compression formats layers come in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// Plain tar.
    None,
    /// gzip (one or more members).
    Gzip,
    /// zstd.
    Zstd,
}

const GZIP_MAGIC: &[u8] = &[0x1f, 0x8b];
const ZSTD_MAGIC: &[u8] = &[0x28, 0xb5, 0x2f, 0xfd];
const XZ_MAGIC: &[u8] = &[0xfd, b'7', b'z', b'X', b'Z', 0x00];
const BZIP2_MAGIC: &[u8] = b"BZh";

/// Reads the first bytes of `reader`, returns the detected compression and a decoder that
/// yields the uncompressed bytes (including the bytes already peeked).
pub fn decompress<'a, R: Read + 'a>(
    mut reader: R,
) -> io::Result<(Compression, Box<dyn Read + 'a>)> {
    let mut head = Vec::with_capacity(8);
    (&mut reader).take(6).read_to_end(&mut head)?;
    let whole = Cursor::new(head.clone()).chain(reader);
    if head.starts_with(GZIP_MAGIC) {
        Ok((
            Compression::Gzip,
            Box::new(flate2::read::MultiGzDecoder::new(whole)),
        ))
    } else if head.starts_with(ZSTD_MAGIC) {
        Ok((
            Compression::Zstd,
            Box::new(zstd::stream::read::Decoder::new(whole)?),
        ))
    } else if head.starts_with(XZ_MAGIC) || head.starts_with(BZIP2_MAGIC) {
        Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "unsupported layer compression (xz or bzip2)",
        ))
    } else {
        Ok((Compression::None, Box::new(whole)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn detects_and_decodes_all_three() {
        let data = b"plain tar bytes".repeat(10);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&data).unwrap();
        let gz = gz.finish().unwrap();
        let zs = zstd::encode_all(&data[..], 1).unwrap();
        for (input, kind) in [
            (data.clone(), Compression::None),
            (gz, Compression::Gzip),
            (zs, Compression::Zstd),
        ] {
            let (k, mut r) = decompress(&input[..]).unwrap();
            assert_eq!(k, kind);
            let mut out = Vec::new();
            r.read_to_end(&mut out).unwrap();
            assert_eq!(out, data);
        }
        let (k, mut r) = decompress(&b"ab"[..]).unwrap();
        assert_eq!(k, Compression::None);
        let mut out = Vec::new();
        r.read_to_end(&mut out).unwrap();
        assert_eq!(out, b"ab");
    }
}
