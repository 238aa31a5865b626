//! Compressed messages in the call journal: a message whose compressed flag is set is read with
//! the `grpc-encoding` of its side (the call's for a request, the response's for a response),
//! as tonic reads it.

use bytes::Bytes;

use crate::journal::Side;

/// The message `bytes` of `side` compressed with `encoding` (the call's `grpc-encoding` for a
/// request, the response's for a response), or why the journal cannot read them, as the end
/// of a sentence.
pub(crate) fn decompress(
    encoding: Option<&str>,
    side: Side,
    bytes: &[u8],
) -> Result<Bytes, String> {
    let (whose, reader) = match side {
        Side::Request => ("the call", "the handler"),
        Side::Response => ("the response", "the client"),
    };
    match encoding {
        Some("gzip") => gunzip(bytes),
        Some(other) => Err(format!(
            "the journal reads gzip only, and {whose}'s grpc-encoding is {other:?}; assert on \
             what {reader} received instead"
        )),
        None => Err(format!(
            "{whose} has no grpc-encoding header to say how (tonic answers such a message \
             INTERNAL)"
        )),
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
        assert_eq!(
            decompress(Some("gzip"), Side::Request, &gzip(b"hello")).unwrap(),
            &b"hello"[..]
        );
    }

    #[test]
    fn what_cannot_be_read_says_why() {
        assert_eq!(
            decompress(Some("zstd"), Side::Response, b"x").unwrap_err(),
            "the journal reads gzip only, and the response's grpc-encoding is \"zstd\"; assert \
             on what the client received instead"
        );
        assert_eq!(
            decompress(None, Side::Request, b"x").unwrap_err(),
            "the call has no grpc-encoding header to say how (tonic answers such a message \
             INTERNAL)"
        );
        let not_gzip = decompress(Some("gzip"), Side::Request, b"plain").unwrap_err();
        assert!(not_gzip.starts_with("its bytes are not gzip"), "{not_gzip}");
    }
}
