//! The request id carried by every response (`x-request-id`), error body, log line and
//! audit row (docs/API.md §1).

use axum::http::HeaderValue;

/// Header that carries the request id both ways.
pub const HEADER: &str = "x-request-id";
/// Longest client-supplied request id that is kept.
const MAX_LEN: usize = 128;

/// The id of the request being served; set by the request middleware as an extension.
///
/// Held as the header value it is sent back as: the client's own value is kept without
/// a copy, and every clone (the extension, the tenant context, the response header) is
/// a reference count, not a new string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(HeaderValue);

/// An empty id: what a tenant context gets when no request middleware ran (unit tests).
impl Default for RequestId {
    fn default() -> Self {
        RequestId(HeaderValue::from_static(""))
    }
}

impl RequestId {
    /// Keeps the client's id when it is 1..=128 visible ASCII characters, else makes a
    /// new UUID (v7, so ids sort by time in logs).
    pub fn from_incoming(incoming: Option<&HeaderValue>) -> Self {
        match incoming {
            Some(value)
                if !value.is_empty()
                    && value.len() <= MAX_LEN
                    && value.as_bytes().iter().all(|b| b.is_ascii_graphic()) =>
            {
                RequestId(value.clone())
            }
            _ => {
                let mut buf = uuid::Uuid::encode_buffer();
                let text = uuid::Uuid::now_v7().hyphenated().encode_lower(&mut buf);
                // A hyphenated UUID is always a valid header value.
                RequestId(
                    HeaderValue::from_str(text).unwrap_or_else(|_| HeaderValue::from_static("-")),
                )
            }
        }
    }

    /// The id as text; it is visible ASCII by construction.
    pub fn as_str(&self) -> &str {
        self.0.to_str().unwrap_or_default()
    }

    /// The `x-request-id` response header's value.
    pub fn header_value(&self) -> HeaderValue {
        self.0.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from(raw: &[u8]) -> RequestId {
        RequestId::from_incoming(Some(&HeaderValue::from_bytes(raw).expect("header value")))
    }

    #[test]
    fn keeps_valid_ids_and_replaces_bad_ones() {
        assert_eq!(from(b"abc-123").as_str(), "abc-123");
        let long = vec![b'a'; 129];
        assert_ne!(from(&long).as_str().len(), 129);
        assert!(uuid::Uuid::parse_str(from(b"has space").as_str()).is_ok());
        assert!(uuid::Uuid::parse_str(RequestId::from_incoming(None).as_str()).is_ok());
        assert!(uuid::Uuid::parse_str(from(b"").as_str()).is_ok());
        assert!(uuid::Uuid::parse_str(from("é".as_bytes()).as_str()).is_ok());
        assert_eq!(from(&[b'x'; 128]).as_str().len(), 128);
        assert_eq!(from(b"abc-123").header_value(), "abc-123");
    }
}
