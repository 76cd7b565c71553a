//! Serde helpers for partial updates, where "absent", "null" and "a value" differ.
//!
//! * `#[serde(default, deserialize_with = "non_null")] Option<T>`: absent → `None`,
//!   a value → `Some`, `null` → an error (`422`: the field cannot be cleared).
//! * `#[serde(default, deserialize_with = "nullable")] Option<Option<T>>`: absent →
//!   `None` (leave as is), `null` → `Some(None)` (clear), a value → `Some(Some(v))`.

use serde::{Deserialize, Deserializer};

/// A field that may be omitted but not set to `null`.
pub fn non_null<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(deserializer).map(Some)
}

/// A field that may be omitted, set, or cleared with `null`.
pub fn nullable<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    struct Patch {
        #[serde(default, deserialize_with = "non_null")]
        name: Option<String>,
        #[serde(default, deserialize_with = "nullable")]
        note: Option<Option<String>>,
    }

    #[test]
    fn absent_null_and_value_differ() {
        let p: Patch = serde_json::from_str("{}").unwrap();
        assert_eq!((p.name, p.note), (None, None));
        let p: Patch = serde_json::from_str(r#"{"name":"a","note":null}"#).unwrap();
        assert_eq!((p.name.as_deref(), p.note), (Some("a"), Some(None)));
        assert!(serde_json::from_str::<Patch>(r#"{"name":null}"#).is_err());
    }
}
