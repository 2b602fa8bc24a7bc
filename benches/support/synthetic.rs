//! Synthetic Pulumi previews for benchmarks: a deterministic PreviewDigest (`pulumi preview --json
//! --show-sames` shape, 4-space indented like the CLI) with a chosen number of resources.
//!
//! The stack is a repetition of "service" units (a role with its trust policy, an inline role
//! policy, a standalone policy attached by dependency, an AWS managed attachment by ARN, a bucket
//! and its policy, a queue and its policy, a Lambda function and its permission, an instance, a
//! KMS key with a key policy, a log group, a security group) and, every few units, a "team" unit
//! (a group with an inline policy, users, a membership, a managed attachment, an access key).
//! AWS classic stores policies as JSON strings in `inputs`; old states carry `outputs`; creates
//! reference not-yet-created ARNs through the unknown sentinel and `propertyDependencies`.
//! Most units are unchanged (`same`); the others are updated (some statements widened to risky
//! ones), created, deleted or replaced. Shared by `benches/analyze.rs` and
//! `examples/gen_preview.rs`; pure: it never reads or writes files. The resources themselves are
//! built in `units.rs`; this file owns the ops, the step and state layout, and the digest.

#[path = "units.rs"]
mod units;

use serde_json::{Map, Value, json};

use self::units::{service_compute, service_data, service_iam, team};

/// The unknown sentinel the Pulumi engine writes for values computed during apply.
const UNKNOWN: &str = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";
const ACCOUNT: &str = "123456789012";
const REGION: &str = "us-east-1";
const STACK_URN: &str = "urn:pulumi:prod::platform::pulumi:pulumi:Stack::platform-prod";
const PROVIDER: &str = "urn:pulumi:prod::platform::pulumi:providers:aws::default_6_63_0::5d9f0a9b-7a3e-4c8e-9d0c-2b1f1e0d3c4a";

/// A tiny xorshift64* generator: deterministic for a seed, no dependency.
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15 | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// A number in `0..n` (`n > 0`).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    /// True with probability `pct` percent.
    fn chance(&mut self, pct: u64) -> bool {
        self.next() % 100 < pct
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
    fn hex(&mut self, len: usize) -> String {
        let mut out = String::with_capacity(len + 16);
        while out.len() < len {
            out.push_str(&format!("{:016x}", self.next()));
        }
        out.truncate(len);
        out
    }
}

/// What happens to a unit in this preview.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum UnitOp {
    Same,
    Update,
    Create,
    Delete,
    Replace,
}

/// One resource of a unit: its inputs before and after (equal when unchanged).
#[derive(Debug)]
struct Res {
    type_: &'static str,
    name: String,
    old: Map<String, Value>,
    new: Map<String, Value>,
    /// Extra outputs (ids, ARNs) beside the inputs in the old state's `outputs`.
    outputs: Map<String, Value>,
    /// Input key -> URNs it depends on.
    deps: Vec<(&'static str, String)>,
    /// Whether a `replace` of the unit replaces this resource (name change).
    replaceable: bool,
}

fn urn(type_: &str, name: &str) -> String {
    format!("urn:pulumi:prod::platform::{type_}::{name}")
}

fn unit_op(rng: &mut Rng) -> UnitOp {
    match rng.below(100) {
        0..70 => UnitOp::Same,
        70..84 => UnitOp::Update,
        84..92 => UnitOp::Create,
        92..96 => UnitOp::Delete,
        _ => UnitOp::Replace,
    }
}

fn state(r: &Res, inputs: &Map<String, Value>, outputs: Option<&Map<String, Value>>) -> Value {
    let u = urn(r.type_, &r.name);
    let mut st = json!({"urn": u, "custom": true, "type": r.type_, "inputs": inputs, "parent": STACK_URN, "provider": PROVIDER});
    if let Some(outputs) = outputs {
        let mut all = inputs.clone();
        all.remove("__defaults");
        all.extend(outputs.iter().map(|(k, v)| (k.clone(), v.clone())));
        st["outputs"] = Value::Object(all);
        st["id"] = outputs.get("id").cloned().unwrap_or(Value::Null);
    } else if !r.deps.is_empty() {
        let deps: Map<String, Value> = r
            .deps
            .iter()
            .map(|(k, u)| ((*k).to_owned(), json!([u])))
            .collect();
        st["propertyDependencies"] = Value::Object(deps);
    }
    st
}

/// The step of resource `r` under the unit's op.
fn step(r: &Res, op: UnitOp, rng: &mut Rng) -> Value {
    let u = urn(r.type_, &r.name);
    let mut step = json!({"op": "same", "urn": u, "provider": PROVIDER});
    let changed_keys = |old: &Map<String, Value>, new: &Map<String, Value>| -> Vec<String> {
        new.iter()
            .filter(|(k, v)| old.get(*k) != Some(*v))
            .map(|(k, _)| k.clone())
            .collect()
    };
    match op {
        UnitOp::Create => {
            let mut inputs = r.old.clone();
            // References to resources created in the same run are unknown during preview.
            for (key, _) in &r.deps {
                if *key == "policyArn" {
                    inputs.insert((*key).to_owned(), Value::String(UNKNOWN.to_owned()));
                }
            }
            step["op"] = json!("create");
            step["newState"] = state(r, &inputs, None);
        }
        UnitOp::Delete => {
            step["op"] = json!("delete");
            step["oldState"] = state(r, &r.old, Some(&r.outputs));
        }
        UnitOp::Replace if r.replaceable => {
            let mut new = r.new.clone();
            new.insert("name".to_owned(), json!(format!("{}-v2", r.name)));
            step["op"] = json!("replace");
            step["oldState"] = state(r, &r.old, Some(&r.outputs));
            step["newState"] = state(r, &new, None);
            step["diffReasons"] = json!(["name"]);
            step["replaceReasons"] = json!(["name"]);
        }
        UnitOp::Update | UnitOp::Replace if r.old != r.new && rng.chance(50) => {
            let keys = changed_keys(&r.old, &r.new);
            step["op"] = json!("update");
            step["oldState"] = state(r, &r.old, Some(&r.outputs));
            step["newState"] = state(r, &r.new, None);
            step["detailedDiff"] = Value::Object(
                keys.iter()
                    .map(|k| (k.clone(), json!({"kind": "update", "inputDiff": false})))
                    .collect(),
            );
            step["diffReasons"] = json!(keys);
        }
        _ => {
            step["oldState"] = state(r, &r.old, Some(&r.outputs));
            step["newState"] = state(r, &r.old, None);
        }
    }
    if step.get("detailedDiff").is_none() {
        step["detailedDiff"] = Value::Null;
    }
    step
}

/// The steps of a preview with `resources` steps (the root stack's included), for `seed`.
pub fn steps(resources: usize, seed: u64) -> Vec<Value> {
    let mut rng = Rng::new(seed);
    let mut steps = vec![json!({"op": "same", "urn": STACK_URN})];
    let mut u = 0;
    while steps.len() < resources {
        let mut unit = Vec::new();
        service_iam(u, &mut rng, &mut unit);
        service_data(u, &mut rng, &mut unit);
        service_compute(u, &mut rng, &mut unit);
        if u % 6 == 5 {
            team(u, &mut rng, &mut unit);
        }
        let op = unit_op(&mut rng);
        for r in &unit {
            if steps.len() >= resources {
                break;
            }
            steps.push(step(r, op, &mut rng));
        }
        u += 1;
    }
    steps.truncate(resources.max(1));
    steps
}

/// A PreviewDigest with `resources` steps for `seed`, as `pulumi preview --json` prints it.
pub fn preview(resources: usize, seed: u64) -> Vec<u8> {
    let steps = steps(resources, seed);
    let mut summary = Map::new();
    for step in &steps {
        let op = step["op"].as_str().unwrap_or_default().to_owned();
        let count = summary.get(&op).and_then(Value::as_u64).unwrap_or(0);
        summary.insert(op, json!(count + 1));
    }
    let digest = json!({"config": {"aws:region": REGION}, "steps": steps, "diagnostics": [],
        "duration": 41_000_000_000_u64, "changeSummary": summary});
    let mut out = Vec::with_capacity(resources * 1100);
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut out, formatter);
    // Serializing a `Value` into a `Vec` cannot fail.
    let _ = serde::Serialize::serialize(&digest, &mut ser);
    out.push(b'\n');
    out
}
