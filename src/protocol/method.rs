//! Full gRPC method paths (`/package.Service/Method`), validated where a test names one.

/// Checks that `path` has the `/package.Service/Method` shape a gRPC request path has.
///
/// # Panics
///
/// With a message that shows the expected shape, naming `context` (the function that took it).
#[track_caller]
pub(crate) fn check_method_path(path: &str, context: &str) {
    if !is_method_path(path) {
        panic!(
            "{context}: {path:?} is not a gRPC method path: use the full path \
             \"/package.Service/Method\", as in \"/orders.Orders/RegisterOrder\" (the proto \
             package, the service and the method, as the generated client sends it)"
        );
    }
}

/// `/service/method...` split at its second slash; `None` without a leading slash or a second
/// one.
pub(crate) fn split_method_path(path: &str) -> Option<(&str, &str)> {
    path.strip_prefix('/')?.split_once('/')
}

/// Whether `path` is `/service/method` with a dotted service name and a plain method name.
fn is_method_path(path: &str) -> bool {
    let Some((service, method)) = split_method_path(path) else { return false };
    !service.is_empty()
        && !method.is_empty()
        && !service.starts_with('.')
        && !service.ends_with('.')
        && !method.contains(['.', '/'])
        && !service.contains(char::is_whitespace)
        && !method.contains(char::is_whitespace)
}

#[cfg(test)]
mod tests {
    use super::check_method_path;

    #[test]
    fn full_paths_pass() {
        check_method_path("/orders.Orders/RegisterOrder", "test");
        check_method_path("/Greeter/SayHello", "test");
        check_method_path("/a.b.c.Service/Method_2", "test");
        check_method_path("/caf\u{e9}.Men\u{fc}/Bestellen", "test");
    }

    #[test]
    fn other_shapes_are_rejected() {
        for path in [
            "",
            "/",
            "orders.Orders/RegisterOrder",
            "/orders.Orders",
            "/orders.Orders/",
            "//RegisterOrder",
            "/orders.Orders/Register/Order",
            "/orders.Orders.RegisterOrder",
            "/orders.Orders/orders.Register",
            "/.Orders/Get",
            "/orders.Orders/Register Order",
            "/orders.Orders/Register\u{a0}Order",
            "/orders Orders/Get",
            "/orders.Orders/Get\u{b}",
            "/orders.Orders/Get\u{2003}",
        ] {
            let outcome = std::panic::catch_unwind(|| check_method_path(path, "test"));
            assert!(outcome.is_err(), "{path:?} was accepted");
        }
    }
}
