//! The claims of a CI job's OIDC ID token that iamgate reads, and what they say in the same
//! words for GitHub Actions and GitLab CI. Names and meanings are the issuers' own (GitHub:
//! "About security hardening with OpenID Connect"; GitLab: "OpenID Connect (OIDC)
//! Authentication Using ID Tokens").

use serde::Deserialize;

/// Which CI issued a token: the issuer it was verified against says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CiKind {
    GitHubActions,
    GitLabCi,
}

/// A verified token's claims (unknown ones ignored).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct CiClaims {
    pub iss: String,
    /// The token's unique id: a token is accepted for one submission only.
    pub jti: Option<String>,
    pub exp: u64,
    pub sub: Option<String>,
    /// The commit the job ran for.
    pub sha: Option<String>,
    // ---- GitHub Actions ----
    /// `owner/name` of the repository the workflow ran in.
    pub repository: Option<String>,
    /// `refs/pull/<N>/merge`, `refs/heads/<branch>`, ...
    #[serde(rename = "ref")]
    pub git_ref: Option<String>,
    pub event_name: Option<String>,
    /// The reusable workflow the job ran (`owner/repo/.github/workflows/x.yml@ref`).
    pub job_workflow_ref: Option<String>,
    /// The workflow the run started from.
    pub workflow_ref: Option<String>,
    pub run_id: Option<String>,
    pub run_attempt: Option<String>,
    // ---- GitLab CI ----
    /// `group/project` of the project the pipeline ran in.
    pub project_path: Option<String>,
    /// `refs/merge-requests/<N>/head`, `refs/heads/<branch>`, ...
    pub ref_path: Option<String>,
    pub pipeline_id: Option<String>,
    pub job_id: Option<String>,
    /// The CI config the pipeline ran (`gitlab.example.com/group/project//.gitlab-ci.yml@refs/heads/main`).
    pub ci_config_ref_uri: Option<String>,
    pub pipeline_source: Option<String>,
}

impl CiClaims {
    /// The repository (GitHub) or project (GitLab) the job ran in.
    pub fn repository(&self, kind: CiKind) -> Option<&str> {
        match kind {
            CiKind::GitHubActions => self.repository.as_deref(),
            CiKind::GitLabCi => self.project_path.as_deref(),
        }
    }

    /// The pull request number the job's ref names: GitHub `refs/pull/<N>/merge` or `/head`,
    /// GitLab `refs/merge-requests/<N>/head` or `/merge` (and `/train`).
    pub fn pull_request(&self, kind: CiKind) -> Option<u64> {
        let (git_ref, prefix, suffixes): (_, _, &[&str]) = match kind {
            CiKind::GitHubActions => (self.git_ref.as_deref(), "refs/pull/", &["merge", "head"]),
            CiKind::GitLabCi => (
                self.ref_path.as_deref(),
                "refs/merge-requests/",
                &["head", "merge", "train"],
            ),
        };
        let rest = git_ref?.strip_prefix(prefix)?;
        let (number, suffix) = rest.split_once('/')?;
        if !suffixes.contains(&suffix) || number.starts_with('0') {
            return None;
        }
        number.parse().ok()
    }

    /// The CI definition that ran, as `ci.workflows` matches it: GitHub `job_workflow_ref`
    /// (a reusable workflow) else `workflow_ref`; GitLab `ci_config_ref_uri`.
    pub fn workflow(&self, kind: CiKind) -> Option<&str> {
        match kind {
            CiKind::GitHubActions => self
                .job_workflow_ref
                .as_deref()
                .or(self.workflow_ref.as_deref()),
            CiKind::GitLabCi => self.ci_config_ref_uri.as_deref(),
        }
    }

    /// Which run submitted, in words for the audit trail and the comment.
    pub fn source(&self, kind: CiKind) -> String {
        let or_unknown = |v: &Option<String>| v.clone().unwrap_or_else(|| "?".to_owned());
        match kind {
            CiKind::GitHubActions => format!(
                "GitHub Actions run {} (attempt {}) of {}",
                or_unknown(&self.run_id),
                or_unknown(&self.run_attempt),
                self.workflow(kind).unwrap_or("?")
            ),
            CiKind::GitLabCi => format!(
                "GitLab CI job {} of pipeline {} ({})",
                or_unknown(&self.job_id),
                or_unknown(&self.pipeline_id),
                self.workflow(kind).unwrap_or("?")
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn github(git_ref: &str) -> CiClaims {
        CiClaims {
            git_ref: Some(git_ref.to_owned()),
            ..CiClaims::default()
        }
    }

    fn gitlab(ref_path: &str) -> CiClaims {
        CiClaims {
            ref_path: Some(ref_path.to_owned()),
            ..CiClaims::default()
        }
    }

    #[test]
    fn the_pull_request_is_read_from_the_ref_of_each_ci() {
        let gh = CiKind::GitHubActions;
        assert_eq!(github("refs/pull/12/merge").pull_request(gh), Some(12));
        assert_eq!(github("refs/pull/12/head").pull_request(gh), Some(12));
        for not_a_pr in [
            "refs/heads/main",
            "refs/pull/12",
            "refs/pull/12/merge/x",
            "refs/pull/x/merge",
            "refs/pull/012/merge",
            "refs/merge-requests/12/head",
        ] {
            assert_eq!(github(not_a_pr).pull_request(gh), None, "{not_a_pr}");
        }
        let gl = CiKind::GitLabCi;
        assert_eq!(
            gitlab("refs/merge-requests/7/head").pull_request(gl),
            Some(7)
        );
        assert_eq!(
            gitlab("refs/merge-requests/7/merge").pull_request(gl),
            Some(7)
        );
        assert_eq!(
            gitlab("refs/merge-requests/7/train").pull_request(gl),
            Some(7)
        );
        assert_eq!(gitlab("refs/heads/feature").pull_request(gl), None);
        assert_eq!(
            github("refs/merge-requests/7/head").pull_request(gl),
            None,
            "GitLab's ref is ref_path, not ref"
        );
    }

    #[test]
    fn the_workflow_prefers_the_reusable_one_on_github() {
        let claims = CiClaims {
            workflow_ref: Some("acme/infra/.github/workflows/ci.yml@refs/pull/3/merge".into()),
            job_workflow_ref: Some("acme/shared/.github/workflows/iamgate.yml@refs/tags/v1".into()),
            ci_config_ref_uri: Some(
                "gitlab.example.com/acme/infra//.gitlab-ci.yml@refs/heads/main".into(),
            ),
            ..CiClaims::default()
        };
        assert_eq!(
            claims.workflow(CiKind::GitHubActions),
            Some("acme/shared/.github/workflows/iamgate.yml@refs/tags/v1")
        );
        assert_eq!(
            claims.workflow(CiKind::GitLabCi),
            Some("gitlab.example.com/acme/infra//.gitlab-ci.yml@refs/heads/main")
        );
    }
}
