//! Compressed messages in the call journal: a request message whose compressed flag is set is
//! read with the call's `grpc-encoding`, as tonic's server reads it.

use bytes::Bytes;

/// The message `bytes` compressed with `encoding` (the call's `grpc-encoding`), or why the
/// journal cannot read them, as the end of a sentence.
pub(crate) fn decompress(encoding: Option<&str>, bytes: &[u8]) -> Result<Bytes, String> {
    match encoding {
        Some("gzip") => gunzip(bytes),
        Some(other) => Err(format!(
            "the journal reads gzip only, and the call's grpc-encoding is {other:?}; assert on \
             what the handler received instead"
        )),
        None => Err("the call has no grpc-encoding header to say how (a tonic server answers \
                     such a message INTERNAL)"
            .to_owned()),
    }
}

#[cfg(feature = "gzip")]
fn gunzip(bytes: &[u8]) -> Result<Bytes, String> {
    use std::io::Read;

    let mut plain = Vec::new();
    match flate2::read::GzDecoder::new(bytes).read_to_end(&mut plain) {
        Ok(_) => Ok(plain.into()),
        Err(error) => Err(format!("its bytes are not gzip: {error}")),
    }
}

#[cfg(not(feature = "gzip"))]
fn gunzip(_: &[u8]) -> Result<Bytes, String> {
    Err("the journal reads gzip with tonic-testkit's `gzip` feature: enable it (features = \
         [\"gzip\"] on the tonic-testkit dev-dependency)"
        .to_owned())
}

#[cfg(all(test, feature = "gzip"))]
mod tests {
    use std::io::Write;

    use super::*;

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
        encoder.write_all(bytes).unwrap();
        encoder.finish().unwrap()
    }

    #[test]
    fn gzip_messages_are_read_back() {
        assert_eq!(decompress(Some("gzip"), &gzip(b"hello")).unwrap(), &b"hello"[..]);
    }

    #[test]
    fn what_cannot_be_read_says_why() {
        assert_eq!(
            decompress(Some("zstd"), b"x").unwrap_err(),
            "the journal reads gzip only, and the call's grpc-encoding is \"zstd\"; assert on \
             what the handler received instead"
        );
        assert!(decompress(None, b"x").unwrap_err().starts_with("the call has no grpc-encoding"));
        assert!(
            decompress(Some("gzip"), b"plain").unwrap_err().starts_with("its bytes are not gzip")
        );
    }
}
