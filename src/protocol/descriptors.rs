//! The services the test's descriptors describe (the encoded `FileDescriptorSet` the build
//! already makes): each method's path, shape and message types, read with prost-reflect.

use prost_reflect::{DescriptorPool, MessageDescriptor, MethodDescriptor};

/// A decoded descriptor set.
#[derive(Clone, Debug)]
pub(crate) struct Descriptors(DescriptorPool);

impl Descriptors {
    /// Decodes `bytes`, an encoded `FileDescriptorSet`.
    ///
    /// # Panics
    ///
    /// When they are not one; `context` names the caller.
    #[track_caller]
    pub(crate) fn decode(bytes: &[u8], context: &str) -> Self {
        match DescriptorPool::decode(bytes) {
            Ok(pool) => Self(pool),
            Err(error) => panic!(
                "{context}: the bytes given are not an encoded FileDescriptorSet ({error}); give \
                 the set the build writes (tonic_prost_build's file_descriptor_set_path, or the \
                 encoded result of protox::compile)"
            ),
        }
    }

    /// The decoded pool.
    #[cfg_attr(not(feature = "fuzz"), allow(dead_code))]
    pub(crate) fn pool(&self) -> &DescriptorPool {
        &self.0
    }

    /// The method at `path` (`/package.Service/Method`).
    pub(crate) fn method(&self, path: &str) -> Option<MethodDescriptor> {
        let (service, method) = crate::protocol::method::split_method_path(path)?;
        self.0.get_service_by_name(service)?.methods().find(|found| found.name() == method)
    }

    /// The path of every method described, the closest to `path` first.
    pub(crate) fn closest_to(&self, wanted: &str) -> Vec<String> {
        let methods = self.0.services().flat_map(|service| service.methods().collect::<Vec<_>>());
        let mut paths: Vec<String> = methods.map(|method| path(&method)).collect();
        paths.sort_by_key(|candidate| (distance(candidate, wanted), candidate.clone()));
        paths
    }
}

/// The path of `method`: `/package.Service/Method`.
pub(crate) fn path(method: &MethodDescriptor) -> String {
    format!("/{}/{}", method.parent_service().full_name(), method.name())
}

/// Whether the Rust message type `T` is `message`. prost's generated types carry no descriptor,
/// and implement `prost::Name` only when the build asks for it, so they are compared by name:
/// the last part of the Rust path with the message's name (`()` is `google.protobuf.Empty`, as
/// tonic maps it).
pub(crate) fn is<T>(message: &MessageDescriptor) -> bool {
    match rust_name::<T>() {
        "()" => message.full_name() == "google.protobuf.Empty",
        name => name == message.name(),
    }
}

/// The name of the Rust type `T`, without its path.
pub(crate) fn rust_name<T>() -> &'static str {
    let name = std::any::type_name::<T>();
    let name = name.split('<').next().unwrap_or(name);
    name.rsplit("::").next().unwrap_or(name)
}

/// The edit distance between two texts: how many letters to insert, remove or change.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, left) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, right) in b.iter().enumerate() {
            let replaced = diagonal + usize::from(left != *right);
            diagonal = row[j + 1];
            row[j + 1] = replaced.min(row[j] + 1).min(diagonal + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances_count_the_letters_to_change() {
        assert_eq!(distance("/p.P/Unary", "/p.P/Unary"), 0);
        assert_eq!(distance("/p.P/Unry", "/p.P/Unary"), 1);
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(distance("", "abc"), 3);
    }

    #[test]
    fn rust_types_are_named_as_their_messages() {
        struct ProbeRequest;
        assert_eq!(rust_name::<ProbeRequest>(), "ProbeRequest");
        assert_eq!(rust_name::<()>(), "()");
        assert_eq!(rust_name::<Vec<u8>>(), "Vec");
    }
}
