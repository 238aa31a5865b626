//! `users.UserService`: user 1 exists; any other id is `NOT_FOUND "User not found"`.

use tonic::{Request, Response, Status};

/// The generated messages, server and client.
#[allow(missing_docs, clippy::all)]
pub mod pb {
    tonic::include_proto!("users");
}

use pb::{
    GetUserRequest, ListUsersRequest, ListUsersResponse, User, user_service_server::UserService,
};

/// A user store with one user, as in the tutorial.
#[derive(Clone, Debug)]
pub struct Users {
    users: Vec<User>,
}

impl Default for Users {
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

#[tonic::async_trait]
impl UserService for Users {
    async fn get_user(&self, request: Request<GetUserRequest>) -> Result<Response<User>, Status> {
        let id = request.into_inner().id;
        match self.users.iter().find(|user| user.id == id) {
            Some(user) => Ok(Response::new(user.clone())),
            None => Err(Status::not_found("User not found")),
        }
    }

    async fn list_users(
        &self,
        _request: Request<ListUsersRequest>,
    ) -> Result<Response<ListUsersResponse>, Status> {
        Ok(Response::new(ListUsersResponse { users: self.users.clone() }))
    }
}
