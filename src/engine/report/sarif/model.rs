//! The SARIF 2.1.0 object model that iamgate writes: only the objects and properties it uses,
//! named and shaped as the schema says. Data only; `super` fills it.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::engine::Risk;
use crate::engine::risk::{Category, Severity};

#[derive(Debug, Serialize)]
pub(super) struct Log<'a> {
    #[serde(rename = "$schema")]
    pub(super) schema: &'static str,
    pub(super) version: &'static str,
    pub(super) runs: [Run<'a>; 1],
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Run<'a> {
    pub(super) tool: Tool,
    pub(super) invocations: [Invocation<'a>; 1],
    pub(super) results: Vec<SarifResult<'a>>,
    pub(super) properties: RunProperties<'a>,
}

#[derive(Debug, Serialize)]
pub(super) struct Tool {
    pub(super) driver: Driver,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Driver {
    pub(super) name: &'static str,
    pub(super) version: &'static str,
    pub(super) semantic_version: &'static str,
    pub(super) information_uri: &'static str,
    pub(super) rules: Vec<Descriptor>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Descriptor {
    pub(super) id: String,
    pub(super) name: String,
    pub(super) short_description: Text,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) full_description: Option<Text>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) help: Option<Help>,
    pub(super) default_configuration: Configuration,
    pub(super) properties: RuleProperties,
}

#[derive(Debug, Serialize)]
pub(super) struct Text {
    pub(super) text: String,
}

#[derive(Debug, Serialize)]
pub(super) struct Help {
    pub(super) text: String,
    pub(super) markdown: String,
}

#[derive(Debug, Serialize)]
pub(super) struct Configuration {
    pub(super) level: &'static str,
}

#[derive(Debug, Serialize)]
pub(super) struct RuleProperties {
    pub(super) category: Category,
    #[serde(rename = "security-severity")]
    pub(super) security_severity: &'static str,
    pub(super) tags: Vec<&'static str>,
    pub(super) precision: &'static str,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Invocation<'a> {
    pub(super) execution_successful: bool,
    pub(super) tool_execution_notifications: Vec<Notification<'a>>,
}

#[derive(Debug, Serialize)]
pub(super) struct Notification<'a> {
    pub(super) level: &'static str,
    pub(super) message: MessageRef<'a>,
}

#[derive(Debug, Serialize)]
pub(super) struct MessageRef<'a> {
    pub(super) text: &'a str,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct SarifResult<'a> {
    pub(super) rule_id: &'a str,
    pub(super) rule_index: usize,
    pub(super) level: &'static str,
    pub(super) kind: &'static str,
    pub(super) baseline_state: &'static str,
    pub(super) message: MessageRef<'a>,
    pub(super) locations: [Location<'a>; 1],
    pub(super) partial_fingerprints: BTreeMap<&'static str, String>,
    pub(super) properties: ResultProperties<'a>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Location<'a> {
    pub(super) physical_location: PhysicalLocation,
    pub(super) logical_locations: [LogicalLocation<'a>; 1],
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct PhysicalLocation {
    pub(super) artifact_location: ArtifactLocation,
    pub(super) region: Region,
}

#[derive(Debug, Serialize)]
pub(super) struct ArtifactLocation {
    pub(super) uri: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Region {
    pub(super) start_line: u32,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct LogicalLocation<'a> {
    pub(super) name: &'a str,
    pub(super) fully_qualified_name: &'a str,
    pub(super) kind: &'static str,
}

#[derive(Debug, Serialize)]
pub(super) struct ResultProperties<'a> {
    pub(super) new: bool,
    pub(super) category: Category,
    pub(super) severity: Severity,
    pub(super) subject: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) previous_severity: Option<Severity>,
    #[serde(rename = "security-severity")]
    pub(super) security_severity: &'static str,
}

#[derive(Debug, Serialize)]
pub(super) struct RunProperties<'a> {
    pub(super) risk: Risk,
    pub(super) fingerprint: &'a str,
}
