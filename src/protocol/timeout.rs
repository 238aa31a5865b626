//! `grpc-timeout`, the deadline a client sends, read as tonic's server reads it.

use std::time::Duration;

use http::HeaderMap;

use super::GRPC_TIMEOUT;

/// The deadline a client sent in `grpc-timeout`, parsed as tonic's server parses it: a malformed
/// value means no deadline.
pub(crate) fn grpc_timeout(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(&GRPC_TIMEOUT)?.to_str().ok()?;
    if value.is_empty() || !value.is_char_boundary(value.len() - 1) {
        return None;
    }
    let (amount, unit) = value.split_at(value.len() - 1);
    if amount.len() > 8 {
        return None;
    }
    let amount: u64 = amount.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(amount * 60 * 60),
        "M" => Duration::from_secs(amount * 60),
        "S" => Duration::from_secs(amount),
        "m" => Duration::from_millis(amount),
        "u" => Duration::from_micros(amount),
        "n" => Duration::from_nanos(amount),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(value: &str) -> Option<Duration> {
        let mut headers = HeaderMap::new();
        headers.insert("grpc-timeout", value.parse().unwrap());
        grpc_timeout(&headers)
    }

    #[test]
    fn grpc_timeout_units_parse_as_tonic_parses_them() {
        assert_eq!(parse("3H"), Some(Duration::from_secs(3 * 3600)));
        assert_eq!(parse("2M"), Some(Duration::from_secs(120)));
        assert_eq!(parse("5S"), Some(Duration::from_secs(5)));
        assert_eq!(parse("50m"), Some(Duration::from_millis(50)));
        assert_eq!(parse("7u"), Some(Duration::from_micros(7)));
        assert_eq!(parse("9n"), Some(Duration::from_nanos(9)));
        assert_eq!(parse("99999999m"), Some(Duration::from_millis(99_999_999)));
    }

    #[test]
    fn malformed_grpc_timeout_means_no_deadline() {
        for value in ["", "m", "10", "10x", "-1m", "123456789m", "1.5S", "ms"] {
            assert_eq!(parse(value), None, "grpc-timeout {value:?}");
        }
        assert_eq!(grpc_timeout(&HeaderMap::new()), None);
    }
}
