//! The request id carried by every response (`x-request-id`), error body, log line and
//! audit row (docs/API.md §1).

/// Header that carries the request id both ways.
pub const HEADER: &str = "x-request-id";
/// Longest client-supplied request id that is kept.
const MAX_LEN: usize = 128;

/// The id of the request being served; set by the request middleware as an extension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(pub String);

impl RequestId {
    /// Keeps the client's id when it is 1..=128 visible ASCII characters, else makes a
    /// new UUID (v7, so ids sort by time in logs).
    pub fn from_incoming(incoming: Option<&[u8]>) -> Self {
        match incoming {
            Some(raw)
                if !raw.is_empty()
                    && raw.len() <= MAX_LEN
                    && raw.iter().all(|b| b.is_ascii_graphic()) =>
            {
                RequestId(String::from_utf8_lossy(raw).into_owned())
            }
            _ => RequestId(uuid::Uuid::now_v7().to_string()),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_valid_ids_and_replaces_bad_ones() {
        assert_eq!(RequestId::from_incoming(Some(b"abc-123")).0, "abc-123");
        let long = vec![b'a'; 129];
        assert_ne!(RequestId::from_incoming(Some(&long)).0.len(), 129);
        assert!(uuid::Uuid::parse_str(&RequestId::from_incoming(Some(b"has space")).0).is_ok());
        assert!(uuid::Uuid::parse_str(&RequestId::from_incoming(None).0).is_ok());
        assert_eq!(RequestId::from_incoming(Some(&[b'x'; 128])).0.len(), 128);
    }
}
