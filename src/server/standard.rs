//! The standard gRPC services a test server can add next to the test's own: reflection
//! (feature `reflection`) and health (feature `health`). What the builder was asked for, and
//! what the running server keeps.

use crate::engine::router::ServicesBuilder;

/// What [`TestServerBuilder`](crate::TestServerBuilder) was asked to add.
#[derive(Clone, Debug, Default)]
pub(crate) struct Standard {
    /// The descriptor sets given to `.reflection(..)`; reflection is served when there is one.
    #[cfg(feature = "reflection")]
    pub(crate) reflection: Vec<crate::server::reflection::DescriptorSet>,
    #[cfg(feature = "health")]
    pub(crate) health: bool,
}

/// What a running [`TestServer`](crate::TestServer) keeps of its standard services.
#[derive(Debug, Default)]
pub(crate) struct Running {
    #[cfg(feature = "health")]
    pub(crate) health: Option<crate::server::Health>,
}

impl Standard {
    /// The names of the standard services asked for.
    pub(crate) fn names(&self) -> Vec<&'static str> {
        #[cfg_attr(not(any(feature = "health", feature = "reflection")), allow(unused_mut))]
        let mut names = Vec::new();
        #[cfg(feature = "health")]
        if self.health {
            names.push(crate::server::health::SERVICE_NAME);
        }
        #[cfg(feature = "reflection")]
        if !self.reflection.is_empty() {
            names.extend(crate::server::reflection::SERVICE_NAMES);
        }
        names
    }

    /// Refuses, when the test calls `start()` (so that the panic points at its line), what
    /// [`add`](Self::add) cannot serve for the test's own `services`: a standard service the
    /// test also added with `add_service`, or, with reflection, a service no descriptor set
    /// describes.
    #[track_caller]
    #[cfg_attr(not(any(feature = "health", feature = "reflection")), allow(unused_variables))]
    pub(crate) fn check(&self, services: &[&'static str]) {
        #[cfg(feature = "health")]
        if self.health {
            check_not_added(services, crate::server::health::SERVICE_NAME, ".health()");
        }
        #[cfg(feature = "reflection")]
        if !self.reflection.is_empty() {
            for name in crate::server::reflection::SERVICE_NAMES {
                check_not_added(services, name, ".reflection(..)");
            }
            // The sets `add` serves: the test's, then the reflection and health services' own.
            let mut described: Vec<&str> = self
                .reflection
                .iter()
                .flat_map(crate::server::reflection::DescriptorSet::services)
                .collect();
            described.extend(crate::server::reflection::SERVICE_NAMES);
            #[cfg(feature = "health")]
            if self.health {
                described.push(crate::server::health::SERVICE_NAME);
            }
            crate::server::reflection::check_described(services, &described);
        }
    }

    /// Adds the services asked for to `routes` and their names to `services` (which holds the
    /// test's own services, [checked](Self::check)): health reports the test's services,
    /// reflection lists them all.
    #[cfg_attr(
        not(any(feature = "health", feature = "reflection")),
        allow(unused_variables, clippy::ptr_arg)
    )]
    pub(crate) async fn add(
        self,
        routes: &mut ServicesBuilder,
        services: &mut Vec<&'static str>,
    ) -> Running {
        let running = Running::default();
        #[cfg(feature = "health")]
        let running = if self.health {
            let health = crate::server::Health::add(routes, services).await;
            services.push(crate::server::health::SERVICE_NAME);
            Running { health: Some(health) }
        } else {
            running
        };
        #[cfg(feature = "reflection")]
        if !self.reflection.is_empty() {
            let mut sets = self.reflection;
            sets.extend(crate::server::reflection::own_descriptor_sets());
            #[cfg(feature = "health")]
            if running.health.is_some() {
                sets.push(crate::server::reflection::DescriptorSet::new(
                    bytes::Bytes::from_static(tonic_health::pb::FILE_DESCRIPTOR_SET),
                ));
            }
            services.extend(crate::server::reflection::SERVICE_NAMES);
            crate::server::reflection::add(routes, &sets, services);
        }
        running
    }
}

/// Panics when the test added a service of its own under a standard service's name.
#[cfg(any(feature = "health", feature = "reflection"))]
#[track_caller]
fn check_not_added(services: &[&'static str], name: &str, call: &str) {
    assert!(
        !services.contains(&name),
        "the service {name} was added to this TestServer with add_service(..) and asked for \
         with {call}; keep one of the two ({call} serves it for every transport)"
    );
}
