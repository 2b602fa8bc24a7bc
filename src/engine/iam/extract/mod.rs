//! Extraction: from the steps of a preview to the IAM state before and after the change, and the
//! canonical IAM properties of every resource whose IAM changes. Pure: no I/O.
//!
//! Which side a step contributes to follows its op: creates and imports only after (an import's
//! resource already exists, so it counts before too), deletes only before, updates and replaces
//! both, `same` and `read` both (unchanged). Before = old inputs (falling back to old outputs per
//! property); after = new inputs.

mod assemble;
mod canonical;
mod facts;
mod props;
mod readers;

use rayon::prelude::*;
use serde_json::Value;

pub use facts::{Fact, Ref};
pub use readers::is_iam_type;

use self::assemble::{Carrier, assemble};
use self::props::Props;
use super::model::IamState;
use crate::engine::preview::{Op, Preview, State, Step};

/// The IAM view of a whole preview.
#[derive(Debug, Clone, Default)]
pub struct Extraction {
    pub before: IamState,
    pub after: IamState,
    /// Every IAM-relevant resource of the preview, in step order, changed or not.
    pub resources: Vec<ResourceIam>,
}

/// The canonical IAM properties of one resource, before and after (None: absent on that side).
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceIam {
    pub urn: String,
    pub type_: String,
    pub op: Op,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

impl ResourceIam {
    /// Whether the change alters what this resource grants.
    pub fn changed(&self) -> bool {
        self.before != self.after
    }
}

struct StepFacts<'p> {
    step: &'p Step<'p>,
    before: Option<Vec<Fact>>,
    after: Option<Vec<Fact>>,
}

/// Extracts the IAM view of a preview.
pub fn extract<'p>(preview: &'p Preview<'p>) -> Extraction {
    let per_step: Vec<StepFacts<'p>> = preview
        .steps
        .par_iter()
        .filter(|s| is_iam_type(&s.type_))
        .map(read_step)
        .collect();

    let before_carriers: Vec<Carrier<'_>> = per_step
        .iter()
        .filter_map(|sf| sf.before.as_deref().map(|facts| Carrier { urn: &sf.step.urn, facts }))
        .collect();
    let after_carriers: Vec<Carrier<'_>> = per_step
        .iter()
        .filter_map(|sf| sf.after.as_deref().map(|facts| Carrier { urn: &sf.step.urn, facts }))
        .collect();
    let (before, after) = rayon::join(|| assemble(&before_carriers), || assemble(&after_carriers));

    let resources = per_step
        .iter()
        .map(|sf| ResourceIam {
            urn: sf.step.urn.clone(),
            type_: sf.step.type_.clone(),
            op: sf.step.op.clone(),
            before: sf.before.as_deref().map(canonical::facts_json),
            after: sf.after.as_deref().map(canonical::facts_json),
        })
        .collect();
    Extraction { before, after, resources }
}

fn read_step<'p>(step: &'p Step<'p>) -> StepFacts<'p> {
    let name = step.urn.rsplit("::").next().unwrap_or(&step.urn);
    let old = step.old.as_ref().map(|s| read_state(step, s, true, name));
    let new = step.new.as_ref().map(|s| read_state(step, s, false, name));
    let (before, after) = match step.op {
        Op::Create | Op::CreateReplacement => (None, new),
        Op::Delete | Op::DeleteReplaced | Op::Discard | Op::DiscardReplaced | Op::RemovePendingReplace => (old, None),
        // An imported resource already exists with these properties.
        Op::Import | Op::ImportReplacement => (new.clone(), new),
        Op::Same | Op::Read | Op::ReadReplacement | Op::Refresh => match (old, new) {
            (Some(o), Some(n)) => (Some(o), Some(n)),
            (Some(o), None) => (Some(o.clone()), Some(o)),
            (None, Some(n)) => (Some(n.clone()), Some(n)),
            (None, None) => (None, None),
        },
        Op::Update | Op::Replace | Op::Other(_) => (old, new),
    };
    StepFacts { step, before, after }
}

fn read_state(step: &Step<'_>, state: &State<'_>, is_old: bool, name: &str) -> Vec<Fact> {
    let parse = |raw: Option<&serde_json::value::RawValue>| -> Value {
        raw.and_then(|r| serde_json::from_str(r.get()).ok()).unwrap_or(Value::Null)
    };
    let inputs = parse(state.inputs);
    let outputs = if is_old { Some(parse(state.outputs)) } else { None };
    let props = Props { primary: &inputs, fallback: outputs.as_ref(), deps: &state.property_dependencies };
    let type_ = if state.type_.is_empty() { &step.type_ } else { &state.type_ };
    readers::read(type_, &props, name)
}
