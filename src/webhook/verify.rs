//! Proof that a delivery comes from the forge, checked on the raw bytes before anything is
//! parsed or stored: GitHub's `X-Hub-Signature-256` (HMAC-SHA256), GitLab's `X-Gitlab-Token`
//! and, when a signing token is configured, GitLab's Standard Webhooks signature
//! (`webhook-id`, `webhook-timestamp`, `webhook-signature`). All compared in constant time.
//! Never logs, never returns the expected value.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use crate::config::Secret;
use crate::config::server::signing_key;

/// Why a delivery was refused. The messages name the problem, never a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("no signature header")]
    Missing,
    #[error("malformed signature: expected `sha256=` and 64 hex digits")]
    Malformed,
    #[error("signature does not match the body")]
    Mismatch,
    #[error("token does not match the configured webhook secret")]
    TokenMismatch,
    #[error(
        "malformed webhook signature headers: expected `webhook-id`, a unix `webhook-timestamp` \
         and `v1,<base64>` signatures"
    )]
    MalformedSigned,
    #[error(
        "webhook-timestamp is more than {} seconds away from now",
        SIGNED_TOLERANCE_SECS
    )]
    Stale,
}

/// How far a signed delivery's `webhook-timestamp` may be from our clock (Standard Webhooks:
/// 5 minutes).
pub const SIGNED_TOLERANCE_SECS: i64 = 5 * 60;

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
        Err(VerifyError::TokenMismatch)
    }
}

/// The headers of a GitLab delivery signed the Standard Webhooks way.
#[derive(Debug, Clone, Copy, Default)]
pub struct SignedHeaders<'a> {
    /// `webhook-id` (GitLab sends its `Idempotency-Key`).
    pub id: Option<&'a [u8]>,
    /// `webhook-timestamp`: unix seconds.
    pub timestamp: Option<&'a [u8]>,
    /// `webhook-signature`: space-separated `v1,<base64 HMAC-SHA256>` entries.
    pub signature: Option<&'a [u8]>,
}

/// Checks GitLab's signing-token scheme: HMAC-SHA256 keyed with the decoded `whsec_` token over
/// `{webhook-id}.{webhook-timestamp}.{body}`, any `v1` entry matching, the timestamp within
/// [`SIGNED_TOLERANCE_SECS`] of `now_unix`. Returns the verified `webhook-id`.
pub fn gitlab_signature<'a>(
    signing_token: &Secret,
    headers: SignedHeaders<'a>,
    body: &[u8],
    now_unix: i64,
) -> Result<&'a str, VerifyError> {
    let (Some(id), Some(timestamp), Some(signature)) =
        (headers.id, headers.timestamp, headers.signature)
    else {
        return Err(VerifyError::Missing);
    };
    let id = std::str::from_utf8(id)
        .ok()
        .filter(|id| is_webhook_id(id))
        .ok_or(VerifyError::MalformedSigned)?;
    let sent: i64 = std::str::from_utf8(timestamp)
        .ok()
        .filter(|t| !t.is_empty() && t.len() <= 12 && t.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|t| t.parse().ok())
        .ok_or(VerifyError::MalformedSigned)?;
    let key = signing_key(signing_token.expose()).ok_or(VerifyError::Mismatch)?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).map_err(|_| VerifyError::Mismatch)?;
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp);
    mac.update(b".");
    mac.update(body);
    let mut seen_v1 = false;
    let mut matched = false;
    for entry in signature.split(|b| *b == b' ').filter(|e| !e.is_empty()) {
        let Some(encoded) = entry.strip_prefix(b"v1,") else {
            continue;
        };
        let Some(digest) = BASE64.decode(encoded).ok().filter(|d| d.len() == 32) else {
            continue;
        };
        seen_v1 = true;
        // Every entry is checked (no early exit), each in constant time.
        matched |= mac.clone().verify_slice(&digest).is_ok();
    }
    if !seen_v1 {
        return Err(VerifyError::MalformedSigned);
    }
    if !matched {
        return Err(VerifyError::Mismatch);
    }
    // Checked after the MAC so that a forged timestamp is a mismatch, not "stale".
    if (now_unix - sent).abs() > SIGNED_TOLERANCE_SECS {
        return Err(VerifyError::Stale);
    }
    Ok(id)
}

/// The `webhook-signature` value GitLab would send (for tests and replay tools); empty when
/// `signing_token` is not a `whsec_` token.
pub fn gitlab_signature_for(
    signing_token: &Secret,
    id: &str,
    timestamp: i64,
    body: &[u8],
) -> String {
    let Some(key) = signing_key(signing_token.expose()) else {
        return String::new();
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&key) else {
        return String::new();
    };
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    format!("v1,{}", BASE64.encode(mac.finalize().into_bytes()))
}

/// A Standard Webhooks message id: short and plain (it becomes the delivery id).
fn is_webhook_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 100
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
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
            Err(VerifyError::TokenMismatch)
        );
        assert_eq!(
            gitlab_token(&s, Some(b"0123456789abcdefg")),
            Err(VerifyError::TokenMismatch)
        );
        assert_eq!(gitlab_token(&s, None), Err(VerifyError::Missing));
    }

    // The Standard Webhooks reference test vector (standard-webhooks/standard-webhooks,
    // libraries' tests): key, id, timestamp, payload and the signature they publish.
    const SW_KEY: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const SW_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const SW_TS: i64 = 1614265330;
    const SW_BODY: &[u8] = br#"{"test": 2432232314}"#;
    const SW_SIG: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    fn signed<'a>(id: &'a str, ts: &'a str, sig: &'a str) -> SignedHeaders<'a> {
        SignedHeaders {
            id: Some(id.as_bytes()),
            timestamp: Some(ts.as_bytes()),
            signature: Some(sig.as_bytes()),
        }
    }

    #[test]
    fn gitlab_signatures_match_the_standard_webhooks_vector() {
        let key = Secret::new(SW_KEY);
        let ts = SW_TS.to_string();
        assert_eq!(gitlab_signature_for(&key, SW_ID, SW_TS, SW_BODY), SW_SIG);
        assert_eq!(
            gitlab_signature(&key, signed(SW_ID, &ts, SW_SIG), SW_BODY, SW_TS + 60),
            Ok(SW_ID)
        );
        // Several signatures (a key rotation): any v1 match is enough.
        let several = format!("v1,Zm9vYmFyZm9vYmFyZm9vYmFyZm9vYmFyZm9vYmFyZm8= v2,abc {SW_SIG}");
        assert_eq!(
            gitlab_signature(&key, signed(SW_ID, &ts, &several), SW_BODY, SW_TS),
            Ok(SW_ID)
        );
    }

    #[test]
    fn gitlab_signatures_refuse_changes_staleness_and_garbage() {
        let key = Secret::new(SW_KEY);
        let ts = SW_TS.to_string();
        let check = |headers, body: &[u8], now| gitlab_signature(&key, headers, body, now);
        assert_eq!(
            check(
                signed(SW_ID, &ts, SW_SIG),
                br#"{"test": 2432232315}"#,
                SW_TS
            ),
            Err(VerifyError::Mismatch),
            "another body"
        );
        assert_eq!(
            check(signed("msg_other", &ts, SW_SIG), SW_BODY, SW_TS),
            Err(VerifyError::Mismatch),
            "another id"
        );
        let later = (SW_TS + 1).to_string();
        assert_eq!(
            check(signed(SW_ID, &later, SW_SIG), SW_BODY, SW_TS),
            Err(VerifyError::Mismatch),
            "another timestamp"
        );
        for now in [
            SW_TS + SIGNED_TOLERANCE_SECS + 1,
            SW_TS - SIGNED_TOLERANCE_SECS - 1,
        ] {
            assert_eq!(
                check(signed(SW_ID, &ts, SW_SIG), SW_BODY, now),
                Err(VerifyError::Stale)
            );
        }
        for (id, ts, sig) in [
            (SW_ID, "not-a-number", SW_SIG),
            (SW_ID, "-1614265330", SW_SIG),
            ("id with spaces", ts.as_str(), SW_SIG),
            (
                SW_ID,
                ts.as_str(),
                "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
            ),
            (SW_ID, ts.as_str(), "v1,not base64"),
            (SW_ID, ts.as_str(), "v1,Zm9v"),
            (SW_ID, ts.as_str(), ""),
        ] {
            assert_eq!(
                check(signed(id, ts, sig), SW_BODY, SW_TS),
                Err(VerifyError::MalformedSigned),
                "{id} {ts} {sig}"
            );
        }
        let missing = SignedHeaders {
            signature: None,
            ..signed(SW_ID, &ts, SW_SIG)
        };
        assert_eq!(check(missing, SW_BODY, SW_TS), Err(VerifyError::Missing));
        assert_eq!(
            gitlab_signature(
                &Secret::new("not-a-whsec-token"),
                signed(SW_ID, &ts, SW_SIG),
                SW_BODY,
                SW_TS
            ),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(signing_key("whsec_"), None);
        assert_eq!(signing_key("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"), None);
        assert_eq!(signing_key(SW_KEY).map(|k| k.len()), Some(24));
    }
}
