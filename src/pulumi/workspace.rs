//! Unpacking a pull request's head archive (gzip tar from the forge API) into a fresh workspace.
//!
//! Owns the safety of that step: no entry lands outside the destination, nothing is written
//! through a symlink, links may only point inside the checkout, and the size, entry count and path
//! shape are bounded while streaming (headers are not trusted). It does not download anything and
//! does not run anything. The code is synchronous on purpose: callers run it in
//! `tokio::task::spawn_blocking`.
//!
//! Choices: device, fifo and sparse entries are rejected (a git checkout never holds them, so
//! their presence means the archive is not what a forge sends); the pax global header that
//! `git archive` writes is skipped; file modes become 0644 or 0755 (executable bits kept, never
//! setuid, setgid or sticky), directories 0755; owners and times are not restored. On error the
//! destination is left half-written: the caller deletes it.

mod budget;
mod tree;

#[cfg(test)]
mod tests;

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};
use std::rc::Rc;

use flate2::read::GzDecoder;
use tar::EntryType;
use thiserror::Error;

use budget::{Budget, BudgetReader};
use tree::Tree;

/// Bytes the tar reader may consume between two entries (headers, GNU long names, pax records,
/// bodies of entries that carry no file data). Bounds memory on hostile long-name entries.
const HEADER_BUDGET: u64 = 1024 * 1024;

/// Longest entry name quoted back in an error message.
const MAX_NAME_IN_ERROR: usize = 160;

/// Bounds on what one archive may unpack to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnpackLimits {
    /// Sum of the sizes of all regular files, counted as bytes are written.
    pub max_bytes: u64,
    /// Number of entries of any kind (files, directories, links).
    pub max_files: usize,
    /// Number of path components of one entry, the top-level directory included.
    pub max_depth: usize,
    /// Length in bytes of one entry's path as written in the archive.
    pub max_path_len: usize,
}

impl Default for UnpackLimits {
    fn default() -> Self {
        Self {
            max_bytes: 512 * 1024 * 1024,
            max_files: 100_000,
            max_depth: 64,
            max_path_len: 1024,
        }
    }
}

/// Why an archive was not unpacked. Entry names come from the archive: untrusted text.
#[derive(Debug, Error)]
pub enum UnpackError {
    #[error("the workspace directory {} must be empty before unpacking", dest.display())]
    DestNotEmpty { dest: PathBuf },
    #[error("the pull request archive could not be read (corrupt or truncated): {source}")]
    Archive { source: io::Error },
    #[error("could not write `{entry}` into the workspace: {source}")]
    Write { entry: String, source: io::Error },
    #[error("archive entry `{entry}` has an absolute path")]
    AbsolutePath { entry: String },
    #[error("archive entry `{entry}` contains a `..` component")]
    ParentDir { entry: String },
    #[error("archive entry `{entry}` links to `{target}`, which is outside the checkout")]
    LinkEscapes { entry: String, target: String },
    #[error("archive entry `{entry}` links to `{target}`, which goes through too many links")]
    LinkLoop { entry: String, target: String },
    #[error(
        "archive entry `{entry}` lies beneath the symlink `{link}`; writing through links is refused"
    )]
    ThroughLink { entry: String, link: String },
    #[error("archive entry `{entry}` collides with `{existing}`, which the archive already holds")]
    Conflict { entry: String, existing: String },
    #[error("archive entry `{entry}` is a {kind}, which a source checkout never holds")]
    Unsupported { entry: String, kind: &'static str },
    #[error(
        "archive entry `{entry}` is a hard link to `{target}`, which is not a regular file \
         earlier in the archive"
    )]
    HardlinkTarget { entry: String, target: String },
    #[error("the archive holds more than {limit} entries")]
    TooManyFiles { limit: usize },
    #[error("the archive unpacks to more than {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("archive entry `{entry}` is nested deeper than {limit} levels")]
    TooDeep { entry: String, limit: usize },
    #[error("archive entry `{entry}` has a path longer than {limit} bytes")]
    PathTooLong { entry: String, limit: usize },
    #[error("an archive header (long name or pax record) exceeds {limit} bytes")]
    HeaderTooLarge { limit: u64 },
}

/// Unpacks the gzip tar at `archive` into `dest` (created if missing, must be empty) and returns
/// the directory to use as the checkout root: `dest/<top>` when every entry lies under one
/// top-level directory (GitHub's `{owner}-{repo}-{sha}/`, GitLab's `{project}-{sha}-{sha}/`),
/// else `dest`.
pub fn unpack(archive: &Path, dest: &Path, limits: &UnpackLimits) -> Result<PathBuf, UnpackError> {
    prepare_dest(dest)?;
    let file = File::open(archive).map_err(|source| UnpackError::Archive { source })?;
    let budget = Rc::new(Budget::new());
    let reader = BudgetReader::new(GzDecoder::new(BufReader::new(file)), Rc::clone(&budget));
    let mut archive = tar::Archive::new(reader);
    let mut tree = Tree::new(dest.to_path_buf());
    let mut state = Progress::default();

    let mut entries = archive
        .entries()
        .map_err(|source| read_error(&budget, source))?;
    loop {
        budget.limit_to(HEADER_BUDGET);
        let Some(next) = entries.next() else { break };
        let mut entry = next.map_err(|source| read_error(&budget, source))?;
        budget.lift();
        unpack_entry(&mut entry, &mut tree, &mut state, limits)
            .map_err(|err| reclassify(&budget, err))?;
    }

    let root = match state.single_top() {
        Some(top) if tree.is_real_dir(Path::new(&top)) => PathBuf::from(top),
        _ => PathBuf::new(),
    };
    tree.check_links_within(&root)?;
    Ok(dest.join(root))
}

/// What the loop has seen so far.
#[derive(Debug, Default)]
struct Progress {
    entries: usize,
    bytes: u64,
    /// First path components seen, up to two (two means "no single top directory").
    tops: Vec<OsString>,
}

impl Progress {
    fn note_top(&mut self, rel: &Path) {
        if let Some(Component::Normal(first)) = rel.components().next()
            && self.tops.len() < 2
            && !self.tops.iter().any(|t| t == first)
        {
            self.tops.push(first.to_os_string());
        }
    }

    fn single_top(&self) -> Option<OsString> {
        match self.tops.as_slice() {
            [only] => Some(only.clone()),
            _ => None,
        }
    }
}

fn unpack_entry<R: Read>(
    entry: &mut tar::Entry<'_, R>,
    tree: &mut Tree,
    state: &mut Progress,
    limits: &UnpackLimits,
) -> Result<(), UnpackError> {
    let kind = entry.header().entry_type();
    if kind == EntryType::XGlobalHeader {
        return Ok(());
    }
    state.entries += 1;
    if state.entries > limits.max_files {
        return Err(UnpackError::TooManyFiles {
            limit: limits.max_files,
        });
    }
    let raw = entry.path_bytes().into_owned();
    let name = display_name(&raw);
    let rel = relative_path(&raw, &name, limits)?;
    let is_dir = kind == EntryType::Directory
        || ((kind == EntryType::Regular || kind == EntryType::Continuous) && raw.ends_with(b"/"));
    if rel.as_os_str().is_empty() {
        // `./` itself, as `tar -C dir .` writes it: the destination already exists.
        return if is_dir {
            Ok(())
        } else {
            Err(UnpackError::Unsupported {
                entry: name,
                kind: "file without a name",
            })
        };
    }
    state.note_top(&rel);

    if is_dir {
        return tree.make_dir(&rel, &name);
    }
    match kind {
        EntryType::Regular | EntryType::Continuous => {
            let mode = if entry.header().mode().unwrap_or(0o644) & 0o111 != 0 {
                0o755
            } else {
                0o644
            };
            let room = limits.max_bytes.saturating_sub(state.bytes);
            if entry.size() > room {
                return Err(UnpackError::TooLarge {
                    limit: limits.max_bytes,
                });
            }
            let written = tree.write_file(&rel, &name, entry, (room, limits.max_bytes), mode)?;
            state.bytes += written;
            Ok(())
        }
        EntryType::Symlink => tree.make_symlink(&rel, &name, &link_target(entry)?),
        EntryType::Link => {
            let target_raw = link_target(entry)?;
            let target_bytes = target_raw.as_os_str().as_bytes();
            let target_name = display_name(target_bytes);
            let target = relative_path(target_bytes, &target_name, limits).map_err(|_| {
                UnpackError::LinkEscapes {
                    entry: name.clone(),
                    target: target_name,
                }
            })?;
            tree.make_hardlink(&rel, &name, &target)
        }
        other => Err(UnpackError::Unsupported {
            entry: name,
            kind: kind_name(other),
        }),
    }
}

fn link_target<R: Read>(entry: &tar::Entry<'_, R>) -> Result<PathBuf, UnpackError> {
    match entry.link_name() {
        Ok(Some(target)) if !target.as_os_str().is_empty() => Ok(target.into_owned()),
        Ok(_) => Err(UnpackError::Unsupported {
            entry: display_name(&entry.path_bytes()),
            kind: "link without a target",
        }),
        Err(source) => Err(UnpackError::Archive { source }),
    }
}

/// Validates an entry path and returns it relative, without `.` components.
fn relative_path(raw: &[u8], name: &str, limits: &UnpackLimits) -> Result<PathBuf, UnpackError> {
    if raw.len() > limits.max_path_len {
        return Err(UnpackError::PathTooLong {
            entry: name.to_owned(),
            limit: limits.max_path_len,
        });
    }
    let path = Path::new(OsStr::from_bytes(raw));
    let mut rel = PathBuf::new();
    for component in path.components() {
        match component {
            Component::Normal(part) => rel.push(part),
            Component::CurDir => {}
            Component::ParentDir => {
                return Err(UnpackError::ParentDir {
                    entry: name.to_owned(),
                });
            }
            Component::RootDir | Component::Prefix(_) => {
                return Err(UnpackError::AbsolutePath {
                    entry: name.to_owned(),
                });
            }
        }
    }
    if rel.components().count() > limits.max_depth {
        return Err(UnpackError::TooDeep {
            entry: name.to_owned(),
            limit: limits.max_depth,
        });
    }
    Ok(rel)
}

fn prepare_dest(dest: &Path) -> Result<(), UnpackError> {
    let write_err = |source| UnpackError::Write {
        entry: dest.display().to_string(),
        source,
    };
    std::fs::create_dir_all(dest).map_err(write_err)?;
    let mut listing = std::fs::read_dir(dest).map_err(write_err)?;
    if listing.next().is_some() {
        return Err(UnpackError::DestNotEmpty {
            dest: dest.to_path_buf(),
        });
    }
    Ok(())
}

/// A read error caused by the header budget becomes `HeaderTooLarge`; any other is corruption.
fn read_error(budget: &Budget, source: io::Error) -> UnpackError {
    if budget.exhausted() {
        UnpackError::HeaderTooLarge {
            limit: HEADER_BUDGET,
        }
    } else {
        UnpackError::Archive { source }
    }
}

fn reclassify(budget: &Budget, err: UnpackError) -> UnpackError {
    match err {
        UnpackError::Archive { source } => read_error(budget, source),
        other => other,
    }
}

fn kind_name(kind: EntryType) -> &'static str {
    match kind {
        EntryType::Char => "character device",
        EntryType::Block => "block device",
        EntryType::Fifo => "named pipe",
        EntryType::GNUSparse => "sparse file",
        _ => "entry of an unknown type",
    }
}

/// An entry name fit for an error message: lossy UTF-8, cut to a readable length.
pub(crate) fn display_name(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw);
    if text.chars().count() <= MAX_NAME_IN_ERROR {
        return text.into_owned();
    }
    let mut cut: String = text.chars().take(MAX_NAME_IN_ERROR).collect();
    cut.push('…');
    cut
}
