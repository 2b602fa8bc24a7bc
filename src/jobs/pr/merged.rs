//! A pull request merged while iamgate's verdict on its head was not success is reported: in the
//! pull request (a comment of its own, once per merged head) and in the audit trail. It happens
//! only where the forge let a merge past the gate — an administrator's bypass, a GitLab project
//! without *Pipelines must succeed*, a fork merge request whose pipeline runs in the fork, a
//! status someone else posted under iamgate's name and a merge faster than iamgate's answer —
//! and nobody may learn of it otherwise. Only pull requests iamgate decided on are reported.

use tracing::warn;

use crate::audit::{AuditEntry, AuditEvent, Timestamp};
use crate::engine::report::escape;
use crate::event::PrRef;
use crate::forge::{Forge, PullRequest};
use crate::gate::GateState;
use crate::jobs::ctx::JobCtx;
use crate::publish::KeptState;
use crate::queue::JobFailure;

/// Reports pull request `pr_ref`, merged at `pr.head`, unless iamgate's own decision on that
/// head was success.
pub(super) async fn report_unless_success(
    ctx: &JobCtx,
    forge: &dyn Forge,
    pr_ref: &PrRef,
    pr: &PullRequest,
) -> Result<(), JobFailure> {
    let Some(gate) = ctx.store.pr_gate(pr_ref).await? else {
        return Ok(());
    };
    let on_head = gate.sha == pr.head.as_str();
    let verdict = on_head.then(|| GateState::parse(&gate.state)).flatten();
    if verdict == Some(GateState::Success) {
        return Ok(());
    }
    let mut kept = KeptState::load(ctx.store.as_ref(), pr_ref).await?;
    if kept.state.audited.merged_unapproved.as_deref() == Some(pr.head.as_str()) {
        return Ok(());
    }
    let (verdict_word, description) = match verdict {
        Some(state) => (state.as_str(), gate.description.as_str()),
        None => ("none", "iamgate had not decided on this commit"),
    };
    warn!(pr = %pr_ref, sha = %pr.head, verdict = verdict_word, "merged without iamgate's success");
    let body = format!(
        "**Merged without iamgate's success.** This was merged at {} while iamgate's verdict on that commit was \
         **{verdict_word}** ({}). The forge let the merge past the `iamgate` check: check the branch protection or \
         merge checks (iamgate's docs list what each forge needs). This is recorded in the audit trail.",
        escape::code_span(pr.head.as_str()),
        escape::code_span(description),
    );
    forge.create_comment(pr_ref, &body).await?;
    let event = AuditEvent::MergedWithoutSuccess {
        verdict: verdict_word.to_owned(),
        description: description.to_owned(),
    };
    let now = Timestamp::from_system_time(std::time::SystemTime::now());
    kept.audit(AuditEntry::by_app(now, pr_ref, event).at(pr.head.clone()));
    kept.state.audited.merged_unapproved = Some(pr.head.as_str().to_owned());
    Ok(kept.save(ctx.store.as_ref(), pr_ref).await?)
}
