//! Go clients decode some fields as `time.Time`; an empty string makes them fail, so empty time strings are
//! written as Go's zero time instead.

use serde::Serializer;

/// Go's zero `time.Time` in RFC 3339, what Docker sends for "never".
pub const GO_ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// Serializes a time string, writing [`GO_ZERO_TIME`] when it is empty.
pub fn serialize<S: Serializer>(value: &str, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(if value.is_empty() {
        GO_ZERO_TIME
    } else {
        value
    })
}
