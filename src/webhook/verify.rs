//! Proof that a delivery comes from the forge, checked on the raw bytes before anything is
//! parsed or stored: GitHub's `X-Hub-Signature-256` (HMAC-SHA256) and GitLab's `X-Gitlab-Token`,
//! both compared in constant time. Never logs, never returns the expected value.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::config::Secret;

/// Why a delivery was refused. The messages name the problem, never a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("no signature header")]
    Missing,
    #[error("malformed signature: expected `sha256=` and 64 hex digits")]
    Malformed,
    #[error("signature does not match the body")]
    Mismatch,
}

const PREFIX: &str = "sha256=";

/// Checks `X-Hub-Signature-256` (`sha256=<hex HMAC-SHA256(secret, body)>`) over the raw body.
pub fn github_signature(
    secret: &Secret,
    header: Option<&[u8]>,
    body: &[u8],
) -> Result<(), VerifyError> {
    let header = header.ok_or(VerifyError::Missing)?;
    let hex_digest = header
        .strip_prefix(PREFIX.as_bytes())
        .ok_or(VerifyError::Malformed)?;
    let digest = hex::decode(hex_digest).map_err(|_| VerifyError::Malformed)?;
    if digest.len() != 32 {
        return Err(VerifyError::Malformed);
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.expose().as_bytes())
        .map_err(|_| VerifyError::Mismatch)?;
    mac.update(body);
    mac.verify_slice(&digest).map_err(|_| VerifyError::Mismatch)
}

/// Checks GitLab's `X-Gitlab-Token` (the secret in clear). Both sides are hashed first so that
/// the comparison takes the same time whatever the lengths.
pub fn gitlab_token(secret: &Secret, header: Option<&[u8]>) -> Result<(), VerifyError> {
    let header = header.ok_or(VerifyError::Missing)?;
    let expected = Sha256::digest(secret.expose().as_bytes());
    let given = Sha256::digest(header);
    if bool::from(expected.ct_eq(&given)) {
        Ok(())
    } else {
        Err(VerifyError::Mismatch)
    }
}

/// `sha256=<hex>` for `body`: what a forge would send (for tests and tools that replay deliveries).
pub fn github_signature_for(secret: &Secret, body: &[u8]) -> String {
    // An HMAC takes keys of any length, so this cannot fail; the fallback keeps clippy honest.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.expose().as_bytes()) else {
        return String::new();
    };
    mac.update(body);
    format!("{PREFIX}{}", hex::encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret() -> Secret {
        Secret::new("It's a Secret to Everybody")
    }

    #[test]
    fn matches_githubs_documented_example() {
        // From GitHub's "Validating webhook deliveries" docs: secret and payload below.
        let expected = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        assert_eq!(github_signature_for(&secret(), b"Hello, World!"), expected);
        assert_eq!(
            github_signature(&secret(), Some(expected.as_bytes()), b"Hello, World!"),
            Ok(())
        );
    }

    #[test]
    fn refuses_missing_malformed_and_wrong_signatures() {
        let body = b"{\"zen\":\"x\"}";
        let good = github_signature_for(&secret(), body);
        assert_eq!(
            github_signature(&secret(), None, body),
            Err(VerifyError::Missing)
        );
        let wrong_prefix = good.replacen("sha256=", "sha1=", 1);
        let not_hex = format!("sha256={}", "zz".repeat(32));
        let short = &good[..good.len() - 2];
        for bad in [
            wrong_prefix.as_str(),
            not_hex.as_str(),
            short,
            "",
            "sha256=",
        ] {
            assert_eq!(
                github_signature(&secret(), Some(bad.as_bytes()), body),
                Err(VerifyError::Malformed),
                "{bad}"
            );
        }
        let other = github_signature_for(&Secret::new("another secret, same length!"), body);
        assert_eq!(
            github_signature(&secret(), Some(other.as_bytes()), body),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(
            github_signature(&secret(), Some(good.as_bytes()), b"{\"zen\":\"y\"}"),
            Err(VerifyError::Mismatch),
            "a changed body fails"
        );
        let upper = format!("sha256={}", good["sha256=".len()..].to_uppercase());
        assert_eq!(
            github_signature(&secret(), Some(upper.as_bytes()), body),
            Ok(()),
            "hex case does not matter"
        );
    }

    #[test]
    fn gitlab_token_is_compared_exactly() {
        let s = Secret::new("0123456789abcdef");
        assert_eq!(gitlab_token(&s, Some(b"0123456789abcdef")), Ok(()));
        assert_eq!(
            gitlab_token(&s, Some(b"0123456789abcde")),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(
            gitlab_token(&s, Some(b"0123456789abcdefg")),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(gitlab_token(&s, None), Err(VerifyError::Missing));
    }
}
