//! gRPC server reflection on a test server (feature `reflection`), served by tonic-reflection.

use crate::engine::router::ServicesBuilder;
use bytes::Bytes;
use prost::Message;
use tonic_reflection::{pb, server::Builder};

/// The names the reflection services are served under, in the order they are listed.
pub(crate) const SERVICE_NAMES: [&str; 2] =
    ["grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection"];

/// One encoded `FileDescriptorSet` given to `TestServerBuilder::reflection`, checked when it
/// was given, with the services it describes.
#[derive(Clone, Debug)]
pub(crate) struct DescriptorSet {
    encoded: Bytes,
    services: Vec<String>,
}

impl DescriptorSet {
    /// Decodes `encoded` to learn its services, and checks that reflection can serve it.
    ///
    /// # Panics
    ///
    /// When the bytes are not an encoded `FileDescriptorSet`, or describe something reflection
    /// cannot serve (a file or a type without a name).
    #[track_caller]
    pub(crate) fn new(encoded: Bytes) -> Self {
        let set = match prost_types::FileDescriptorSet::decode(encoded.clone()) {
            Ok(set) => set,
            Err(err) => panic!(
                "TestServerBuilder::reflection was given {} bytes that are not an encoded \
                 FileDescriptorSet ({err}); pass the bytes your build wrote with \
                 `fds.encode_to_vec()` (protox) or `file_descriptor_set_path` (tonic-prost-build), \
                 e.g. `include_bytes!(concat!(env!(\"OUT_DIR\"), \"/file_descriptor_set.bin\"))`",
                encoded.len()
            ),
        };
        let served = Builder::configure()
            .register_encoded_file_descriptor_set(&encoded)
            .include_reflection_service(false)
            .build_v1();
        if let Err(err) = served {
            panic!(
                "TestServerBuilder::reflection was given a FileDescriptorSet that reflection \
                 cannot serve ({err}); pass the set your build wrote, unchanged"
            );
        }
        Self { services: service_names(&set), encoded }
    }

    /// The full names (`package.Service`) of the services the set describes.
    pub(crate) fn services(&self) -> impl Iterator<Item = &str> {
        self.services.iter().map(String::as_str)
    }
}

/// The full names (`package.Service`) of the services a set describes.
fn service_names(set: &prost_types::FileDescriptorSet) -> Vec<String> {
    let mut names = Vec::new();
    for file in &set.file {
        for service in &file.service {
            let name = service.name();
            names.push(match file.package() {
                "" => name.to_owned(),
                package => format!("{package}.{name}"),
            });
        }
    }
    names
}

/// Panics when a service the server serves (`served`) is described by none of the sets, whose
/// services are `described`: the message names it and the fix.
#[track_caller]
pub(crate) fn check_described(served: &[&str], described: &[&str]) {
    if let Some(missing) = served.iter().find(|name| !described.contains(name)) {
        panic!(
            "TestServerBuilder::reflection: the server serves {missing}, but no file descriptor \
             set given to .reflection(..) describes it, so reflection clients could not use it. \
             The sets describe: {}. Pass the set compiled from its .proto file with another \
             .reflection(..) call.",
            described.join(", ")
        );
    }
}

/// Adds the v1 and v1alpha reflection services, listing `listed` (the services the server
/// serves, the reflection services included) and describing every file of `sets` (which
/// `start()` has checked with [`check_described`]).
pub(crate) fn add(routes: &mut ServicesBuilder, sets: &[DescriptorSet], listed: &[&str]) {
    let builder = || {
        let builder = sets
            .iter()
            .fold(Builder::configure(), |builder, set| {
                builder.register_encoded_file_descriptor_set(&set.encoded)
            })
            .include_reflection_service(false);
        listed.iter().fold(builder, |builder, name| builder.with_service_name(*name))
    };
    let v1 = builder().build_v1().expect("descriptor sets checked when they were given");
    let v1alpha = builder().build_v1alpha().expect("descriptor sets checked when they were given");
    routes.add_service(v1).add_service(v1alpha);
}

/// The descriptors of the reflection services themselves, v1 and v1alpha.
pub(crate) fn own_descriptor_sets() -> [DescriptorSet; 2] {
    [pb::v1::FILE_DESCRIPTOR_SET, pb::v1alpha::FILE_DESCRIPTOR_SET]
        .map(|set| DescriptorSet::new(Bytes::from_static(set)))
}
