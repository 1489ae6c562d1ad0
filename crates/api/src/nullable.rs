//! Go encodes nil slices and maps as `null`; fields that are plain collections here accept that as empty.

use serde::{Deserialize, Deserializer};

/// Deserializes `null` as `T::default()`, anything else as `T`.
pub fn or_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}
