//! Keyset pagination shared by every list in the product (docs/API.md §1 "lists").
//!
//! A cursor is the last row's sort key and id, serialised as JSON, tagged with the name
//! of the ordering it belongs to, signed with an HMAC (so a tampered or forged cursor is
//! `400 invalid_cursor`, never a surprising page) and base64url-encoded. The next page is
//! "rows strictly after this key in this order", which an index on the same columns
//! serves as a range scan: page N costs what page 1 costs.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::Sha256;

use crate::error::AppError;

/// Smallest, default and largest page sizes.
pub const MIN_LIMIT: i64 = 1;
pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 100;

/// Bytes of HMAC kept in a cursor: enough to make forgery hopeless, short enough to
/// keep cursors short.
const MAC_LEN: usize = 12;

/// Signs and verifies cursors with a key derived from the server secret.
#[derive(Clone)]
pub struct CursorCodec {
    key: [u8; 32],
}

impl std::fmt::Debug for CursorCodec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CursorCodec(<key>)")
    }
}

impl CursorCodec {
    /// Derives the cursor key from the server secret (never the JWT key itself).
    pub fn new(secret: &[u8]) -> Self {
        use sha2::Digest;
        let mut hasher = Sha256::new();
        hasher.update(b"tenantry cursor key v1\0");
        hasher.update(secret);
        CursorCodec {
            key: hasher.finalize().into(),
        }
    }

    fn mac(&self, tag: &str, payload: &[u8]) -> Vec<u8> {
        // A key shorter than the block is zero-padded by HMAC itself; doing it here lets us
        // use the infallible constructor.
        let mut block = [0u8; 64];
        block[..32].copy_from_slice(&self.key);
        let mut mac = <Hmac<Sha256> as KeyInit>::new(&block.into());
        mac.update(tag.as_bytes());
        mac.update(&[0]);
        mac.update(payload);
        mac.finalize().into_bytes()[..MAC_LEN].to_vec()
    }

    /// Encodes `key` as an opaque cursor for the ordering named `tag`.
    pub fn encode<K: Serialize>(&self, tag: &str, key: &K) -> String {
        let payload = serde_json::to_vec(key).unwrap_or_default();
        let mut bytes = self.mac(tag, &payload);
        bytes.extend_from_slice(&payload);
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// Decodes a cursor made by [`encode`](Self::encode) for the same `tag`.
    pub fn decode<K: DeserializeOwned>(&self, tag: &str, cursor: &str) -> Result<K, AppError> {
        let bytes = URL_SAFE_NO_PAD
            .decode(cursor.as_bytes())
            .map_err(|_| AppError::InvalidCursor)?;
        if bytes.len() <= MAC_LEN {
            return Err(AppError::InvalidCursor);
        }
        let (mac, payload) = bytes.split_at(MAC_LEN);
        // Constant-time comparison of the MAC.
        let expected = self.mac(tag, payload);
        let diff = mac
            .iter()
            .zip(&expected)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b));
        if diff != 0 {
            return Err(AppError::InvalidCursor);
        }
        serde_json::from_slice(payload).map_err(|_| AppError::InvalidCursor)
    }
}

/// `?limit=&cursor=` after range checking (the cursor is decoded by the list that
/// knows its key type).
#[derive(Debug, Clone)]
pub struct PageRequest {
    pub limit: i64,
    pub cursor: Option<String>,
}

impl PageRequest {
    /// Validates the raw parameters: `limit` outside 1..=100 is `422`.
    pub fn new(limit: Option<i64>, cursor: Option<String>) -> Result<Self, AppError> {
        let limit = limit.unwrap_or(DEFAULT_LIMIT);
        if !(MIN_LIMIT..=MAX_LIMIT).contains(&limit) {
            return Err(AppError::invalid(
                "limit",
                format!("must be between {MIN_LIMIT} and {MAX_LIMIT}"),
            ));
        }
        Ok(PageRequest {
            limit,
            cursor: cursor.filter(|c| !c.is_empty()),
        })
    }

    /// Decodes the cursor, if any, for the ordering `tag`.
    pub fn after<K: DeserializeOwned>(
        &self,
        codec: &CursorCodec,
        tag: &str,
    ) -> Result<Option<K>, AppError> {
        self.cursor
            .as_deref()
            .map(|c| codec.decode(tag, c))
            .transpose()
    }

    /// Rows to fetch: one more than the page, to learn whether a next page exists
    /// without a count query.
    pub fn fetch_limit(&self) -> i64 {
        self.limit + 1
    }
}

/// One page of a list: `{"data": [...], "next_cursor": "..." | null}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Page<T> {
    pub data: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// Trims the extra row fetched by [`PageRequest::fetch_limit`] and, when there was
    /// one, makes the cursor from the last row kept.
    pub fn from_rows<K: Serialize>(
        mut rows: Vec<T>,
        page: &PageRequest,
        codec: &CursorCodec,
        tag: &str,
        key_of: impl Fn(&T) -> K,
    ) -> Self {
        let has_more = rows.len() as i64 > page.limit;
        rows.truncate(page.limit as usize);
        let next_cursor = if has_more {
            rows.last().map(|r| codec.encode(tag, &key_of(r)))
        } else {
            None
        };
        Page {
            data: rows,
            next_cursor,
        }
    }

    /// Converts the rows, keeping the cursor.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            data: self.data.into_iter().map(f).collect(),
            next_cursor: self.next_cursor,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, Utc};
    use uuid::Uuid;

    type Key = (DateTime<Utc>, Uuid);

    #[test]
    fn round_trips_and_rejects_tampering() {
        let codec = CursorCodec::new(b"0123456789abcdef0123456789abcdef");
        let key: Key = (Utc::now(), Uuid::now_v7());
        let cursor = codec.encode("tasks:-created_at", &key);
        let back: Key = codec.decode("tasks:-created_at", &cursor).unwrap();
        assert_eq!(back, key);

        // Another ordering's cursor is refused.
        assert!(matches!(
            codec.decode::<Key>("tasks:due_at", &cursor),
            Err(AppError::InvalidCursor)
        ));
        // Any flipped character is refused.
        let mut chars: Vec<char> = cursor.chars().collect();
        let last = chars.len() - 1;
        chars[last] = if chars[last] == 'A' { 'B' } else { 'A' };
        let tampered: String = chars.into_iter().collect();
        assert!(matches!(
            codec.decode::<Key>("tasks:-created_at", &tampered),
            Err(AppError::InvalidCursor)
        ));
        // Garbage and a cursor from another key are refused.
        assert!(matches!(
            codec.decode::<Key>("t", "!!!"),
            Err(AppError::InvalidCursor)
        ));
        let other = CursorCodec::new(b"another secret another secret 123");
        assert!(matches!(
            other.decode::<Key>("tasks:-created_at", &cursor),
            Err(AppError::InvalidCursor)
        ));
    }

    #[test]
    fn limit_is_range_checked() {
        assert_eq!(PageRequest::new(None, None).unwrap().limit, 50);
        assert!(matches!(
            PageRequest::new(Some(0), None),
            Err(AppError::Validation(_))
        ));
        assert!(matches!(
            PageRequest::new(Some(101), None),
            Err(AppError::Validation(_))
        ));
        assert_eq!(PageRequest::new(Some(100), None).unwrap().limit, 100);
    }

    #[test]
    fn pages_trim_the_probe_row_and_link_to_the_next() {
        let codec = CursorCodec::new(b"k");
        let page = PageRequest::new(Some(2), None).unwrap();
        let p = Page::from_rows(vec![1, 2, 3], &page, &codec, "n", |n| *n);
        assert_eq!(p.data, vec![1, 2]);
        assert_eq!(
            codec
                .decode::<i32>("n", p.next_cursor.as_deref().unwrap())
                .unwrap(),
            2
        );
        let p = Page::from_rows(vec![1, 2], &page, &codec, "n", |n| *n);
        assert!(p.next_cursor.is_none());
    }
}
