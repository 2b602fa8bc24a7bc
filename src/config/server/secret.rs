//! `Secret`: a string that never shows itself. Debug and Display print `***`, it is not
//! serializable, has no `==` (compare secrets in constant time, see `webhook::verify`), and the
//! only way to the value is the explicit `expose`.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

/// A secret value (webhook secret, token, private key, preview credentials, the GitHub App's
/// JWT and installation tokens).
#[derive(Clone, Default, serde::Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The value, for the one place that needs it (HMAC key, auth header, child environment).
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The prefix of a GitLab signing token (`whsec_` and the base64 of the key).
pub const SIGNING_TOKEN_PREFIX: &str = "whsec_";

/// The HMAC key of a GitLab signing token (`whsec_<base64>`, standard base64 with padding),
/// `None` when it is not one.
pub fn signing_key(token: &str) -> Option<Vec<u8>> {
    let key = BASE64
        .decode(token.strip_prefix(SIGNING_TOKEN_PREFIX)?)
        .ok()?;
    (!key.is_empty()).then_some(key)
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_prints_its_value() {
        let s = Secret::new("hunter2-hunter2-hunter2");
        assert_eq!(format!("{s}"), "***");
        assert_eq!(format!("{s:?}"), "***");
        assert_eq!(format!("{:?}", Some(s.clone())), "Some(***)");
        assert_eq!(s.expose(), "hunter2-hunter2-hunter2");
    }

    #[test]
    fn a_signing_key_is_canonical_padded_base64_after_the_prefix() {
        assert_eq!(
            signing_key("whsec_Zm9vYmFy").as_deref(),
            Some(&b"foobar"[..])
        );
        assert_eq!(signing_key("whsec_Zm8=").as_deref(), Some(&b"fo"[..]));
        assert_eq!(signing_key("whsec_"), None);
        assert_eq!(signing_key("Zm9vYmFy"), None);
        for bad in ["Zm9", "Zm8", "Zm9=v", "Zm9vYmFy===", "Zm-v", "Zm9=", "Zg=x"] {
            assert_eq!(signing_key(&format!("whsec_{bad}")), None, "{bad}");
        }
    }
}
