//! Reports: JSON (the contract's fields and more), SARIF 2.1.0, and the Markdown comment that the
//! server posts on a pull request (and `iamgate analyze --format markdown` prints). Pure
//! rendering from an [`Analysis`](crate::engine::Analysis): no I/O, no analysis decisions. Rule
//! texts come from the catalog; preview and user text is escaped by [`escape`].

pub mod budget;
pub mod escape;
pub mod json;
pub mod markdown;
pub mod sarif;

#[cfg(test)]
pub(crate) mod fixture;

use super::risk::{Rule, catalog};

/// How a report finds the catalog entry of a rule id (the catalog itself outside tests).
pub(crate) type Lookup = fn(&str) -> Option<&'static Rule>;

pub(crate) const CATALOG: Lookup = catalog::rule;

/// The iamgate version written into SARIF and the comment footer.
/// The hidden line that identifies iamgate's comment on a pull request. Always the first line.
pub const MARKER: &str = "<!-- iamgate:report -->";

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Where users learn about iamgate and its rules.
pub const INFORMATION_URI: &str = env!("CARGO_PKG_REPOSITORY");

/// The resource name of a Pulumi URN (`urn:pulumi:STACK::PROJECT::TYPE::NAME` -> `NAME`); the
/// whole input when it is not shaped like a URN.
pub fn resource_name(urn: &str) -> &str {
    let mut parts = urn.splitn(4, "::");
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(head), Some(_), Some(_), Some(name))
            if head.starts_with("urn:pulumi:") && !name.is_empty() =>
        {
            name
        }
        _ => urn,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_name_is_the_last_urn_part() {
        assert_eq!(
            resource_name("urn:pulumi:prod::infra::aws:iam/role:Role::deployer"),
            "deployer"
        );
        // Names may hold single colons; parent chains live in the type part.
        assert_eq!(
            resource_name("urn:pulumi:prod::infra::my:comp$aws:iam/role:Role::a:b"),
            "a:b"
        );
        // Not a URN: shown whole.
        assert_eq!(
            resource_name("arn:aws:iam::1:role/x"),
            "arn:aws:iam::1:role/x"
        );
        assert_eq!(
            resource_name("urn:pulumi:prod::infra"),
            "urn:pulumi:prod::infra"
        );
    }
}
