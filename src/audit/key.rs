//! The secret keys of the audit chain. A record's link is an HMAC-SHA256 under a key that is not
//! in the store (the server config's `[audit] key`), and the record names the key by its id, so
//! that a chain written under several keys (rotation) verifies with each record's own key. Pure:
//! the caller reads the key's text from wherever it is kept.

use std::fmt;

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// A key must hold at least this many bytes (`openssl rand -hex 32` gives 32).
pub const MIN_KEY_BYTES: usize = 32;

/// Characters of a key id: the first of the hex SHA-256 of the key.
const KEY_ID_CHARS: usize = 8;

/// Why a text is not a key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error(
        "expected the key as hex digits (at least {} of them: {MIN_KEY_BYTES} random bytes), e.g. from `openssl rand -hex 32`",
        MIN_KEY_BYTES * 2
    )]
    NotHex,
    #[error(
        "too short: {bytes} bytes, a key needs at least {MIN_KEY_BYTES} random bytes ({} hex digits), e.g. from `openssl rand -hex 32`",
        MIN_KEY_BYTES * 2
    )]
    TooShort { bytes: usize },
}

/// One key: its bytes and its id (the first 8 hex digits of the SHA-256 of the bytes, which
/// names the key without revealing it). Debug shows the id only.
#[derive(Clone)]
pub struct AuditKey {
    id: String,
    bytes: Vec<u8>,
}

impl AuditKey {
    /// A key from its hex text (surrounding whitespace ignored, either case).
    pub fn from_hex(text: &str) -> Result<AuditKey, KeyError> {
        let bytes = hex::decode(text.trim()).map_err(|_| KeyError::NotHex)?;
        AuditKey::from_bytes(bytes)
    }

    pub fn from_bytes(bytes: Vec<u8>) -> Result<AuditKey, KeyError> {
        if bytes.len() < MIN_KEY_BYTES {
            return Err(KeyError::TooShort { bytes: bytes.len() });
        }
        let mut id = hex::encode(Sha256::digest(&bytes));
        id.truncate(KEY_ID_CHARS);
        Ok(AuditKey { id, bytes })
    }

    /// The key's id, as records name it.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// `hex(HMAC-SHA256(key, parts concatenated))`.
    pub fn mac(&self, parts: &[&[u8]]) -> String {
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&self.bytes) else {
            // HMAC takes keys of any length: unreachable, but never a panic.
            return String::new();
        };
        for part in parts {
            mac.update(part);
        }
        hex::encode(mac.finalize().into_bytes())
    }
}

impl fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AuditKey({})", self.id)
    }
}

/// The keys a server (or a verifier) holds: the current one, which new records are keyed with,
/// and older ones, which only verify the records written under them.
#[derive(Debug, Clone)]
pub struct AuditKeys {
    current: AuditKey,
    previous: Vec<AuditKey>,
}

impl AuditKeys {
    /// `previous` may repeat `current` or each other; the repeats are dropped.
    pub fn new(current: AuditKey, previous: Vec<AuditKey>) -> AuditKeys {
        let mut kept: Vec<AuditKey> = Vec::new();
        for key in previous {
            if key.id != current.id && kept.iter().all(|k| k.id != key.id) {
                kept.push(key);
            }
        }
        AuditKeys {
            current,
            previous: kept,
        }
    }

    /// The key new records are keyed with.
    pub fn current(&self) -> &AuditKey {
        &self.current
    }

    /// The key named `id`, current or previous.
    pub fn get(&self, id: &str) -> Option<&AuditKey> {
        self.all().find(|key| key.id == id)
    }

    /// Every key held, the current one first.
    pub fn all(&self) -> impl Iterator<Item = &AuditKey> {
        std::iter::once(&self.current).chain(&self.previous)
    }

    /// The ids of every key held, the current one first.
    pub fn ids(&self) -> Vec<&str> {
        self.all().map(AuditKey::id).collect()
    }
}

/// The keys of the crate's unit tests (a fixed, public key: tests only).
#[cfg(test)]
pub(crate) fn test_keys() -> AuditKeys {
    AuditKeys::new(
        AuditKey::from_bytes(vec![0x42; 32]).unwrap_or_else(|e| panic!("{e}")),
        Vec::new(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    #[test]
    fn a_key_is_hex_of_at_least_32_bytes_and_is_named_by_its_hash() {
        let key = AuditKey::from_hex(&format!("  {}\n", HEX.to_uppercase())).expect("key");
        assert_eq!(
            key.id(),
            &hex::encode(Sha256::digest(hex::decode(HEX).expect("hex")))[..8]
        );
        assert_eq!(format!("{key:?}"), format!("AuditKey({})", key.id()));
        assert!(!format!("{key:?}").contains("0102"));
        assert_eq!(
            AuditKey::from_hex(&HEX[..62]).err(),
            Some(KeyError::TooShort { bytes: 31 })
        );
        assert_eq!(
            AuditKey::from_hex("not hex at all").err(),
            Some(KeyError::NotHex)
        );
        assert_eq!(AuditKey::from_hex(&HEX[..63]).err(), Some(KeyError::NotHex));
    }

    #[test]
    fn the_mac_is_hmac_sha256_of_the_parts_in_order() {
        // RFC 4231, test case 2 ("Jefe" is too short for a key here: built directly).
        let jefe = AuditKey {
            id: String::new(),
            bytes: b"Jefe".to_vec(),
        };
        assert_eq!(
            jefe.mac(&[b"what do ya want ", b"for nothing?"]),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        let key = AuditKey::from_hex(HEX).expect("key");
        assert_ne!(key.mac(&[b"ab", b"c"]), key.mac(&[b"a", b"bd"]));
    }

    #[test]
    fn keys_are_found_by_id_and_repeats_dropped() {
        let current = AuditKey::from_hex(HEX).expect("key");
        let old = AuditKey::from_bytes(vec![9; 32]).expect("key");
        let keys = AuditKeys::new(
            current.clone(),
            vec![old.clone(), current.clone(), old.clone()],
        );
        assert_eq!(keys.ids(), [current.id(), old.id()]);
        assert_eq!(keys.current().id(), current.id());
        assert_eq!(keys.get(old.id()).map(AuditKey::id), Some(old.id()));
        assert!(keys.get("00000000").is_none());
    }
}
