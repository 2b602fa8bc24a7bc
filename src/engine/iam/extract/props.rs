//! Reading resource properties: one state's `inputs`, falling back to its `outputs` for keys the
//! inputs lack (old states only), with the unknown sentinel and secrets kept opaque.

use std::cell::RefCell;

use serde_json::Value;

use super::facts::Ref;
use crate::engine::iam::normalize::parse_document;
use crate::engine::iam::policy::{Document, UNKNOWN_TEXT};
use crate::engine::preview::{Marker, classify};

/// The properties of one resource state.
#[derive(Debug)]
pub struct Props<'v> {
    pub primary: &'v Value,
    pub fallback: Option<&'v Value>,
    pub deps: &'v [(String, Vec<String>)],
    /// Documents already read from JSON text for this resource (the old and the new state of
    /// an unchanged resource usually carry the same texts): read once, shared.
    pub memo: &'v DocMemo,
}

/// The documents read from JSON strings for one resource, by text. A resource has a handful:
/// a list beats a map.
#[derive(Debug, Default)]
pub struct DocMemo(RefCell<Vec<(String, Document)>>);

impl DocMemo {
    /// `parse_document(value)`, reusing the document of an equal text read before.
    pub fn parse(&self, value: &Value) -> Document {
        let Value::String(text) = value else {
            return parse_document(value);
        };
        if let Some((_, doc)) = self.0.borrow().iter().find(|(t, _)| t == text) {
            return doc.clone();
        }
        let doc = parse_document(value);
        self.0.borrow_mut().push((text.clone(), doc.clone()));
        doc
    }
}

impl<'v> Props<'v> {
    /// The value of `key`: from the inputs, or the outputs when the inputs lack it.
    pub fn get(&self, key: &str) -> Option<&'v Value> {
        match self.primary.get(key) {
            Some(Value::Null) | None => self
                .fallback
                .and_then(|f| f.get(key))
                .filter(|v| !v.is_null()),
            some => some,
        }
    }

    /// A scalar as text: unknown values as `UNKNOWN_TEXT`, secrets as `<secret>`.
    pub fn text(&self, key: &str) -> Option<String> {
        self.get(key).and_then(text_of)
    }

    /// A list of scalars as text (a single scalar counts as a one-element list).
    pub fn texts(&self, key: &str) -> Vec<String> {
        match self.get(key) {
            Some(Value::Array(items)) => items.iter().filter_map(text_of).collect(),
            Some(v) => text_of(v).into_iter().collect(),
            None => Vec::new(),
        }
    }

    pub fn bool(&self, key: &str) -> Option<bool> {
        self.get(key).and_then(Value::as_bool)
    }

    /// A policy document property; `None` when absent or empty.
    pub fn document(&self, key: &str) -> Option<Document> {
        match self.get(key)? {
            Value::String(s) if s.is_empty() => None,
            v => Some(self.memo.parse(v)),
        }
    }

    /// A reference property, with the URN it depends on when there is exactly one.
    pub fn reference(&self, key: &str) -> Option<Ref> {
        let text = self.text(key)?;
        Some(Ref {
            text,
            urn: self.dependency(key),
        })
    }

    /// The single URN that input `key` depends on, if recorded.
    pub fn dependency(&self, key: &str) -> Option<String> {
        self.deps
            .iter()
            .find(|(k, _)| k == key)
            .and_then(|(_, urns)| {
                if urns.len() == 1 {
                    urns.first().cloned()
                } else {
                    None
                }
            })
    }

    /// The URNs that input `key` depends on.
    pub fn dependencies(&self, key: &str) -> &'v [String] {
        self.deps
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, urns)| urns.as_slice())
            .unwrap_or(&[])
    }
}

/// A scalar value as text, opaque markers made readable.
pub fn text_of(v: &Value) -> Option<String> {
    match classify(v) {
        Marker::Unknown => return Some(UNKNOWN_TEXT.to_owned()),
        Marker::Secret => return Some("<secret>".to_owned()),
        Marker::Known => {}
    }
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}
