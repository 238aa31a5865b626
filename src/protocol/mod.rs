//! What the kit imitates of tonic, h2 and mockall: the texts they write, and the parsers of what
//! travels on the wire (method paths, `grpc-timeout`, message frames).

#[cfg(feature = "descriptors")]
pub(crate) mod descriptors;
pub(crate) mod frames;
pub(crate) mod method;
