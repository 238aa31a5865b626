//! Full gRPC method paths (`/package.Service/Method`), validated where a test names one.

/// Checks that `path` has the `/package.Service/Method` shape a gRPC request path has.
///
/// # Panics
///
/// With a message that shows the expected shape, naming `context` (the function that took it).
#[track_caller]
pub(crate) fn check_method_path(path: &str, context: &str) {
    let mut parts = path.strip_prefix('/').map(|rest| rest.split('/'));
    let valid = parts.as_mut().is_some_and(|parts| {
        let service = parts.next().unwrap_or_default();
        let method = parts.next().unwrap_or_default();
        parts.next().is_none()
            && !service.is_empty()
            && !method.is_empty()
            && !service.starts_with('.')
            && !service.ends_with('.')
            && !has_whitespace(service)
            && !method.contains('.')
            && !has_whitespace(method)
    });
    if !valid {
        panic!(
            "{context}: {path:?} is not a gRPC method path: use the full path \
             \"/package.Service/Method\", as in \"/orders.Orders/RegisterOrder\" (the proto \
             package, the service and the method, as the generated client sends it)"
        );
    }
}

/// Whether `text` holds any whitespace; ASCII text (every real path) is checked byte by byte.
fn has_whitespace(text: &str) -> bool {
    match text.is_ascii() {
        // The ASCII characters `char::is_whitespace` accepts (vertical tab included).
        true => text.bytes().any(|byte| matches!(byte, b' ' | b'\t'..=b'\r')),
        false => text.contains(char::is_whitespace),
    }
}

#[cfg(test)]
mod tests {
    use super::check_method_path;

    #[test]
    fn full_paths_pass() {
        check_method_path("/orders.Orders/RegisterOrder", "test");
        check_method_path("/Greeter/SayHello", "test");
        check_method_path("/a.b.c.Service/Method_2", "test");
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
        ] {
            let outcome = std::panic::catch_unwind(|| check_method_path(path, "test"));
            assert!(outcome.is_err(), "{path:?} was accepted");
        }
    }
}
