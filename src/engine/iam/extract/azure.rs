//! The reader of Azure (`azure-native:`, `azure:`, `azuread:`): the `Binding`s, `RoleDef`s and
//! `Credential`s its IAM resources carry (see `iam::grants`).

use super::readers::Reader;

/// The reader of an IAM type of Azure, if iamgate models it.
pub(super) fn reader(type_: &str) -> Option<Reader> {
    let _ = type_;
    None
}
