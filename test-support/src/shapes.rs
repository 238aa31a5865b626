//! The shapes service: one message with every kind of field protobuf has, echoed back, for the
//! fuzzing tests.

use std::pin::Pin;

use tokio_stream::Stream;
use tonic::{Request, Response, Status, Streaming};

#[allow(missing_docs, clippy::all)]
mod generated {
    tonic::include_proto!("shapes");
}

pub use generated::{
    Color, Everything, Tree, everything,
    shapes_client::ShapesClient,
    shapes_server::{Shapes as ShapesService, ShapesServer},
};

/// The shapes service's encoded `FileDescriptorSet`.
pub const SHAPES_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/shapes.bin"));

/// The stream type of `EchoEach`.
pub type EverythingStream = Pin<Box<dyn Stream<Item = Result<Everything, Status>> + Send>>;

/// Echoes what it receives.
#[derive(Clone, Copy, Debug, Default)]
pub struct Shapes;

#[tonic::async_trait]
impl ShapesService for Shapes {
    async fn echo(&self, request: Request<Everything>) -> Result<Response<Everything>, Status> {
        Ok(Response::new(request.into_inner()))
    }

    async fn echo_each(
        &self,
        request: Request<Streaming<Everything>>,
    ) -> Result<Response<EverythingStream>, Status> {
        Ok(Response::new(Box::pin(request.into_inner())))
    }
}

impl Shapes {
    /// A server for the shapes service.
    pub fn server(self) -> ShapesServer<Shapes> {
        ShapesServer::new(self)
    }
}
