//! How a [`Call`] reads a message of its journal as the type a test asks for: found, checked
//! against the method's descriptors, decompressed and decoded, or a panic that says why not.

use bytes::Bytes;

use super::{Call, Message, Side};

impl Call {
    /// Message `index` of `side`, decompressed, decoded as `T`.
    #[track_caller]
    pub(super) fn decode<T: prost::Message + Default>(&self, side: Side, index: usize) -> T {
        #[cfg(feature = "descriptors")]
        if let Some(method) = &self.described {
            let (wanted, verb) = match side {
                Side::Request => (method.input(), "takes"),
                Side::Response => (method.output(), "returns"),
            };
            if !crate::protocol::descriptors::is::<T>(&wanted) {
                panic!(
                    "tonic-testkit: {} message {index} of {} was asked for as {} ({}), and the \
                     method {verb} {}; ask for that message",
                    side.name(),
                    self.method,
                    crate::protocol::descriptors::rust_name::<T>(),
                    std::any::type_name::<T>(),
                    wanted.full_name()
                );
            }
        }
        let message = self.message(side, index);
        let bytes = match message.compressed {
            true => self.decompress(side, index, &message),
            false => message.bytes,
        };
        // A `match`, not `unwrap_or_else`: in a closure the panic would point at the kit.
        match T::decode(bytes) {
            Ok(message) => message,
            Err(error) => panic!(
                "tonic-testkit: {} message {index} of {} does not decode as {}: {error}; ask for \
                 the message type the method {}",
                side.name(),
                self.method,
                std::any::type_name::<T>(),
                match side {
                    Side::Request => "takes",
                    Side::Response => "returns",
                }
            ),
        }
    }

    #[track_caller]
    pub(super) fn message(&self, side: Side, index: usize) -> Message {
        let sent = self.sent(side);
        if let Some(message) = sent.message(index) {
            return message;
        }
        let name = side.name();
        if index < sent.count() {
            panic!(
                "tonic-testkit: {} has {} {name} messages, and the journal kept the first {} of \
                 them: the others came past its byte limit, so they were counted and not kept; \
                 raise it with `TestServerBuilder::journal_byte_limit(bytes)` to read message \
                 {index}",
                self.method,
                sent.count(),
                sent.kept
            )
        }
        panic!(
            "tonic-testkit: {} has {} {name} messages, so there is no message {index} (messages \
             count from 0)",
            self.method,
            sent.count()
        )
    }

    #[track_caller]
    fn decompress(&self, side: Side, index: usize, message: &Message) -> Bytes {
        let headers = match side {
            Side::Request => &self.metadata,
            Side::Response => &self.response_headers,
        };
        let encoding = headers.get("grpc-encoding").and_then(|value| value.to_str().ok());
        match crate::journal::compression::decompress(encoding, side, &message.bytes) {
            Ok(bytes) => bytes,
            Err(why) => panic!(
                "tonic-testkit: {} message {index} of {} arrived compressed, and {why}",
                side.name(),
                self.method
            ),
        }
    }
}
