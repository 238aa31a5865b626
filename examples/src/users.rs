//! `users.UserService`: user 1 exists; any other id is `NOT_FOUND "User not found"`.
//!
//! The users live in a [`UserStore`], so tests can swap in a mock of the storage and call the
//! handlers without a server.

use std::fmt;

use tonic::{Request, Response, Status};

/// The generated messages, server and client.
#[allow(missing_docs, clippy::all)]
pub mod pb {
    tonic::include_proto!("users");
}

use pb::{
    GetUserRequest, ListUsersRequest, ListUsersResponse, User, user_service_server::UserService,
};

/// Where the users live.
pub trait UserStore: Send + Sync + 'static {
    /// The user with `id`, or `None` when there is none.
    fn find(&self, id: i32) -> Result<Option<User>, StoreError>;
    /// Every user.
    fn all(&self) -> Result<Vec<User>, StoreError>;
}

/// The storage failed (it is down, or timed out). The service answers `UNAVAILABLE`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreError(pub String);

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "user store failed: {}", self.0)
    }
}

impl std::error::Error for StoreError {}

impl From<StoreError> for Status {
    /// `UNAVAILABLE "user store unavailable"`: the cause stays on the server, and the client
    /// learns that retrying may help.
    fn from(_: StoreError) -> Self {
        Status::unavailable("user store unavailable")
    }
}

/// A store kept in memory; by default it holds one user, as in the tutorial.
#[derive(Clone, Debug)]
pub struct MemoryStore {
    users: Vec<User>,
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self {
            users: vec![User {
                id: 1,
                name: "Ada Lovelace".to_owned(),
                email: "ada@example.com".to_owned(),
            }],
        }
    }
}

impl UserStore for MemoryStore {
    fn find(&self, id: i32) -> Result<Option<User>, StoreError> {
        Ok(self.users.iter().find(|user| user.id == id).cloned())
    }

    fn all(&self) -> Result<Vec<User>, StoreError> {
        Ok(self.users.clone())
    }
}

/// The user service over a [`UserStore`]; `Users::default()` uses a [`MemoryStore`] with user 1.
#[derive(Clone, Debug)]
pub struct Users<S = MemoryStore> {
    store: S,
}

// Not derived: a derived `impl<S: Default>` would leave `Users::default()` without a store type.
impl Default for Users {
    fn default() -> Self {
        Self::with_store(MemoryStore::default())
    }
}

impl<S: UserStore> Users<S> {
    /// The service over `store`.
    pub fn with_store(store: S) -> Self {
        Self { store }
    }
}

#[tonic::async_trait]
impl<S: UserStore> UserService for Users<S> {
    async fn get_user(&self, request: Request<GetUserRequest>) -> Result<Response<User>, Status> {
        let id = request.into_inner().id;
        match self.store.find(id)? {
            Some(user) => Ok(Response::new(user)),
            None => Err(Status::not_found("User not found")),
        }
    }

    async fn list_users(
        &self,
        _request: Request<ListUsersRequest>,
    ) -> Result<Response<ListUsersResponse>, Status> {
        Ok(Response::new(ListUsersResponse { users: self.store.all()? }))
    }
}
