//! The `iamgate` status a commit shows on GitHub, and who posted it: any user or App with write
//! access can post a status of any context, so a status called `iamgate` is iamgate's only when
//! its creator is the App's bot account. (Branch protection can pin a required check to the App,
//! "expected source"; this is how iamgate itself tells.) Decides nothing.

use serde::Deserialize;

use super::client::{GitHubClient, encode_segment, repo_path};
use super::transport::{ApiRequest, parse_json};
use crate::event::{Login, PrRef, Sha};
use crate::forge::{ForgeResult, STATUS_CONTEXT, ShownStatus};
use crate::gate::GateState;

#[derive(Deserialize)]
struct StatusJson {
    #[serde(default)]
    id: u64,
    state: String,
    #[serde(default)]
    description: Option<String>,
    context: String,
    #[serde(default)]
    creator: Option<CreatorJson>,
}

#[derive(Deserialize)]
struct CreatorJson {
    login: String,
    #[serde(default, rename = "type")]
    kind: String,
}

impl GitHubClient {
    /// The newest `iamgate` status of `sha`: GitHub lists a commit's statuses newest first
    /// (`GET /repos/{owner}/{repo}/commits/{ref}/statuses`), so the first page holds it unless
    /// 100 newer statuses of other contexts came after it; then it is looked for further.
    pub(crate) async fn shown_status(
        &self,
        pr: &PrRef,
        sha: &Sha,
    ) -> ForgeResult<Option<ShownStatus>> {
        let bot = self.session.bot_login().await?;
        let first = format!(
            "{}/commits/{}/statuses?per_page=100",
            repo_path(&pr.repo)?,
            encode_segment(sha.as_str())?
        );
        let request = ApiRequest::get(first.clone());
        let response = self.call(&request, "get_status", true).await?;
        let mut statuses: Vec<StatusJson> = parse_json(&response, &request)?;
        if !statuses.iter().any(|s| s.context == STATUS_CONTEXT) {
            statuses = self.list_all::<StatusJson>(first, "get_status").await?.0;
        }
        Ok(statuses
            .into_iter()
            .find(|s| s.context == STATUS_CONTEXT)
            .map(|s| {
                let (author, ours) = match s.creator {
                    Some(c) => {
                        let ours = c.login == bot.0 && c.kind == "Bot";
                        (Login(c.login), ours)
                    }
                    None => (Login::from("ghost"), false),
                };
                ShownStatus {
                    id: s.id,
                    state: GateState::parse(&s.state),
                    description: s.description.unwrap_or_default(),
                    author,
                    ours,
                }
            }))
    }
}
