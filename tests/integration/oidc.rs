//! CI ID tokens verified against a fake OIDC issuer over real HTTP: discovery, keys, rotation
//! and the rate limit on fetching them again, and each way a token is refused: another issuer,
//! audience, expired or not yet valid beyond a minute of skew, HMAC or `none`, a key of the
//! issuer's that did not sign it, keys published off the issuer's origin, no `jti`.

use std::time::Duration;

use iamgate::ci::oidc::Verified;
use iamgate::ci::{CiKind, OidcError, Verifier};
use iamgate::config::server::CiConfig;
use serde_json::{Value, json};

use crate::support::fake_oidc::{FakeIssuer, KID_1, KID_2, now};

const SHA: &str = "1111111111111111111111111111111111111111";

fn verifier(github: &FakeIssuer, gitlab: Option<&FakeIssuer>) -> Verifier {
    Verifier::new(&CiConfig {
        audience: "iamgate".into(),
        github_issuer: github.url.clone(),
        gitlab_issuer: gitlab.map(|g| g.url.clone()),
    })
    .unwrap()
}

fn with(mut claims: Value, key: &str, value: Value) -> Value {
    claims[key] = value;
    claims
}

#[tokio::test]
async fn a_github_actions_token_verifies_and_says_what_ran() {
    let issuer = FakeIssuer::start().await;
    let verifier = verifier(&issuer, None);
    let token = issuer.sign(&issuer.github_claims("acme/infra", 12, SHA));
    let Verified { kind, claims } = verifier.verify(&token).await.unwrap();
    assert_eq!(kind, CiKind::GitHubActions);
    assert_eq!(claims.repository(kind), Some("acme/infra"));
    assert_eq!(claims.pull_request(kind), Some(12));
    assert_eq!(claims.sha.as_deref(), Some(SHA));
    assert_eq!(
        claims.workflow(kind),
        Some("acme/infra/.github/workflows/iamgate.yml@refs/heads/main")
    );
    // The keys are cached: a second token fetches nothing.
    let again = issuer.sign(&issuer.github_claims("acme/infra", 12, SHA));
    verifier.verify(&again).await.unwrap();
    assert_eq!(issuer.key_fetches(), 1);
}

#[tokio::test]
async fn a_gitlab_token_is_told_apart_by_its_issuer() {
    let github = FakeIssuer::start().await;
    let gitlab = FakeIssuer::start().await;
    let verifier = verifier(&github, Some(&gitlab));
    let now = now();
    let token = gitlab.sign(&json!({
        "iss": gitlab.url, "aud": "iamgate", "jti": "gl-1", "iat": now, "exp": now + 300,
        "project_path": "acme/platform/infra",
        "ref_path": "refs/merge-requests/7/head",
        "sha": SHA, "pipeline_id": "991", "job_id": "12345",
        "ci_config_ref_uri": "gitlab.example.com/acme/platform/infra//.gitlab-ci.yml@refs/heads/main",
    }));
    let Verified { kind, claims } = verifier.verify(&token).await.unwrap();
    assert_eq!(kind, CiKind::GitLabCi);
    assert_eq!(claims.repository(kind), Some("acme/platform/infra"));
    assert_eq!(claims.pull_request(kind), Some(7));
    assert_eq!(
        claims.source(kind),
        "GitLab CI job 12345 of pipeline 991 (gitlab.example.com/acme/platform/infra//.gitlab-ci.yml@refs/heads/main)"
    );
}

#[tokio::test]
async fn tokens_are_refused_for_each_reason_the_contract_names() {
    let issuer = FakeIssuer::start().await;
    let other = FakeIssuer::start().await;
    let verifier = verifier(&issuer, None);
    let good = issuer.github_claims("acme/infra", 12, SHA);
    let now = now();
    let refused = |token: String| {
        let verifier = &verifier;
        async move { verifier.verify(&token).await.unwrap_err() }
    };

    // Signed by an issuer this server does not trust.
    let foreign = other.sign(&with(good.clone(), "iss", json!(other.url)));
    assert!(matches!(
        refused(foreign).await,
        OidcError::UnknownIssuer(_)
    ));
    // Another audience.
    let aud = issuer.sign(&with(good.clone(), "aud", json!("sts.amazonaws.com")));
    assert!(matches!(refused(aud).await, OidcError::Invalid(_)));
    // Expired more than a minute ago; one expired 30 s ago is within the skew.
    let expired = issuer.sign(&with(good.clone(), "exp", json!(now - 90)));
    assert!(matches!(refused(expired).await, OidcError::Invalid(_)));
    let skewed = issuer.sign(&with(good.clone(), "exp", json!(now - 30)));
    assert!(verifier.verify(&skewed).await.is_ok());
    // Not valid before two minutes from now.
    let early = issuer.sign(&with(good.clone(), "nbf", json!(now + 120)));
    assert!(matches!(refused(early).await, OidcError::Invalid(_)));
    // No jti: it could not be accepted only once.
    let mut no_jti = good.clone();
    no_jti.as_object_mut().unwrap().remove("jti");
    assert_eq!(refused(issuer.sign(&no_jti)).await, OidcError::NoTokenId);
    // Signed with key 2 but labelled key 1: the signature does not verify.
    let forged = issuer.sign_as(KID_2, KID_1, &good);
    assert!(matches!(refused(forged).await, OidcError::Invalid(_)));
    // HMAC with a secret anyone could guess (the key's public modulus), and `none`.
    let hmac = jsonwebtoken::encode(
        &jsonwebtoken::Header {
            kid: Some(KID_1.into()),
            ..jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256)
        },
        &good,
        &jsonwebtoken::EncodingKey::from_secret(b"public-modulus"),
    )
    .unwrap();
    assert!(matches!(refused(hmac).await, OidcError::Algorithm(_)));
    let none = {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        format!(
            "{}.{}.",
            b64.encode(br#"{"alg":"none","kid":"test-key-1"}"#),
            b64.encode(good.to_string())
        )
    };
    assert!(matches!(refused(none).await, OidcError::Malformed(_)));
    assert!(matches!(
        refused("not a jwt".into()).await,
        OidcError::Malformed(_)
    ));
}

#[tokio::test]
async fn a_rotated_key_is_fetched_on_its_first_token_and_made_up_ones_are_rate_limited() {
    let issuer = FakeIssuer::start().await;
    let claims = issuer.github_claims("acme/infra", 12, SHA);
    let rate_limited = verifier(&issuer, None);
    rate_limited.verify(&issuer.sign(&claims)).await.unwrap();
    assert_eq!(issuer.key_fetches(), 1);
    // Ten tokens naming keys the issuer never had: at most one more fetch a minute.
    for i in 0..10 {
        let made_up = issuer.sign_as(KID_1, &format!("made-up-{i}"), &claims);
        assert!(matches!(
            rate_limited.verify(&made_up).await,
            Err(OidcError::UnknownKey { .. })
        ));
    }
    assert_eq!(issuer.key_fetches(), 1, "rate limited");

    // The issuer rotates to key 2: a verifier free to fetch again picks it up on its first token.
    let eager = verifier(&issuer, None).with_refetch_interval(Duration::ZERO);
    eager.verify(&issuer.sign(&claims)).await.unwrap();
    issuer.rotate();
    let fetches = issuer.key_fetches();
    let rotated = issuer.sign_as(KID_2, KID_2, &claims);
    eager.verify(&rotated).await.unwrap();
    assert_eq!(issuer.key_fetches(), fetches + 1);
}

#[tokio::test]
async fn keys_published_off_the_issuer_s_origin_are_not_fetched() {
    let issuer = FakeIssuer::start().await;
    let elsewhere = FakeIssuer::start().await;
    issuer.point_keys_at(&format!("{}/.well-known/jwks", elsewhere.url));
    let error = verifier(&issuer, None)
        .verify(&issuer.sign(&issuer.github_claims("acme/infra", 12, SHA)))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, OidcError::Keys(m) if m.contains("not on the issuer's origin")),
        "{error}"
    );
    assert_eq!(elsewhere.key_fetches(), 0);
}
