//! The destination tree while an archive is unpacked into it: creates directories, files and
//! links one entry at a time without ever following a symlink, and remembers every link so that
//! link targets are resolved against the tree the archive builds (not against the host), both
//! when a link is made and once more at the end, when all links are known.

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::ffi::OsString;
use std::fs::{self, DirBuilder, OpenOptions, Permissions};
use std::io::{self, ErrorKind, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt, symlink};
use std::path::{Component, Path, PathBuf};

use super::UnpackError;

/// Links followed while resolving one path before it counts as a loop (Linux uses 40 too).
const MAX_HOPS: usize = 40;

#[derive(Debug)]
struct Link {
    /// Symlink: the target as written in the archive. Hard link: the resolved target path.
    target: PathBuf,
    name: String,
}

#[derive(Debug)]
enum Unresolved {
    Escapes,
    Loop,
}

#[derive(Debug)]
pub(super) struct Tree {
    dest: PathBuf,
    symlinks: BTreeMap<PathBuf, Link>,
    hardlinks: BTreeMap<PathBuf, Link>,
    /// Directories known to exist as real directories (created or checked by us).
    dirs: HashSet<PathBuf>,
}

impl Tree {
    pub(super) fn new(dest: PathBuf) -> Self {
        Self {
            dest,
            symlinks: BTreeMap::new(),
            hardlinks: BTreeMap::new(),
            dirs: HashSet::new(),
        }
    }

    /// Whether `rel` is a directory in the tree (a symlink to one does not count).
    pub(super) fn is_real_dir(&self, rel: &Path) -> bool {
        fs::symlink_metadata(self.dest.join(rel)).is_ok_and(|meta| meta.is_dir())
    }

    pub(super) fn make_dir(&mut self, rel: &Path, name: &str) -> Result<(), UnpackError> {
        self.ensure_parents(rel, name)?;
        self.ensure_dir(rel, name)
    }

    /// Writes a regular file from `body`, refusing to go past `room` bytes (the rest of the
    /// `limit`). Returns the number of bytes written.
    pub(super) fn write_file(
        &mut self,
        rel: &Path,
        name: &str,
        body: &mut impl Read,
        (room, limit): (u64, u64),
        mode: u32,
    ) -> Result<u64, UnpackError> {
        self.ensure_parents(rel, name)?;
        // `create_new` (O_EXCL) never follows a symlink at the final component.
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(self.dest.join(rel))
            .map_err(|source| self.creation_error(name, rel, source))?;
        let mut written: u64 = 0;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let got = match body.read(&mut buf) {
                Ok(0) => break,
                Ok(got) => got,
                Err(err) if err.kind() == ErrorKind::Interrupted => continue,
                Err(source) => return Err(UnpackError::Archive { source }),
            };
            written += got as u64;
            if written > room {
                return Err(UnpackError::TooLarge { limit });
            }
            file.write_all(&buf[..got])
                .map_err(|source| write_error(name, source))?;
        }
        file.set_permissions(Permissions::from_mode(mode))
            .map_err(|source| write_error(name, source))?;
        Ok(written)
    }

    pub(super) fn make_symlink(
        &mut self,
        rel: &Path,
        name: &str,
        target: &Path,
    ) -> Result<(), UnpackError> {
        self.ensure_parents(rel, name)?;
        let escapes = || UnpackError::LinkEscapes {
            entry: name.to_owned(),
            target: target.display().to_string(),
        };
        if target.has_root() {
            return Err(escapes());
        }
        let full = self.dest.join(rel);
        if fs::symlink_metadata(&full).is_ok() {
            return Err(conflict(name, rel));
        }
        let link = Link {
            target: target.to_path_buf(),
            name: name.to_owned(),
        };
        self.symlinks.insert(rel.to_path_buf(), link);
        if let Err(why) = self.resolve(rel) {
            self.symlinks.remove(rel);
            return Err(match why {
                Unresolved::Escapes => escapes(),
                Unresolved::Loop => UnpackError::LinkLoop {
                    entry: name.to_owned(),
                    target: target.display().to_string(),
                },
            });
        }
        symlink(target, &full).map_err(|source| self.creation_error(name, rel, source))
    }

    /// Hard-links `rel` to the regular file `target` (a path from the archive root). The target
    /// is resolved through the links known so far, so the kernel follows no symlink.
    pub(super) fn make_hardlink(
        &mut self,
        rel: &Path,
        name: &str,
        target: &Path,
    ) -> Result<(), UnpackError> {
        self.ensure_parents(rel, name)?;
        let shown = target.display().to_string();
        let resolved = self.resolve(target).map_err(|why| match why {
            Unresolved::Escapes => UnpackError::LinkEscapes {
                entry: name.to_owned(),
                target: shown.clone(),
            },
            Unresolved::Loop => UnpackError::LinkLoop {
                entry: name.to_owned(),
                target: shown.clone(),
            },
        })?;
        let source = self.dest.join(&resolved);
        if !fs::symlink_metadata(&source).is_ok_and(|meta| meta.is_file()) {
            return Err(UnpackError::HardlinkTarget {
                entry: name.to_owned(),
                target: shown,
            });
        }
        fs::hard_link(&source, self.dest.join(rel))
            .map_err(|err| self.creation_error(name, rel, err))?;
        let link = Link {
            target: resolved,
            name: name.to_owned(),
        };
        self.hardlinks.insert(rel.to_path_buf(), link);
        Ok(())
    }

    /// Checks, with every link now known, that each one resolves inside `root` (relative to the
    /// destination; empty for the destination itself).
    pub(super) fn check_links_within(&self, root: &Path) -> Result<(), UnpackError> {
        for (path, link) in &self.symlinks {
            let target = link.target.display().to_string();
            match self.resolve(path) {
                Ok(resolved) if resolved.starts_with(root) => {}
                Ok(_) | Err(Unresolved::Escapes) => {
                    return Err(UnpackError::LinkEscapes {
                        entry: link.name.clone(),
                        target,
                    });
                }
                Err(Unresolved::Loop) => {
                    return Err(UnpackError::LinkLoop {
                        entry: link.name.clone(),
                        target,
                    });
                }
            }
        }
        for link in self.hardlinks.values() {
            if !link.target.starts_with(root) {
                return Err(UnpackError::LinkEscapes {
                    entry: link.name.clone(),
                    target: link.target.display().to_string(),
                });
            }
        }
        Ok(())
    }

    /// Resolves `path` (relative to the destination) through the symlinks recorded so far,
    /// lexically, the way the kernel would walk the tree. The result contains no symlink.
    fn resolve(&self, path: &Path) -> Result<PathBuf, Unresolved> {
        let mut pending: VecDeque<Option<OsString>> = parts(path).collect();
        let mut resolved = PathBuf::new();
        let mut hops = 0;
        while let Some(part) = pending.pop_front() {
            let Some(part) = part else {
                if !resolved.pop() {
                    return Err(Unresolved::Escapes);
                }
                continue;
            };
            resolved.push(&part);
            if let Some(link) = self.symlinks.get(&resolved) {
                hops += 1;
                if hops > MAX_HOPS {
                    return Err(Unresolved::Loop);
                }
                if link.target.has_root() {
                    return Err(Unresolved::Escapes);
                }
                resolved.pop();
                for part in parts(&link.target).collect::<Vec<_>>().into_iter().rev() {
                    pending.push_front(part);
                }
            }
        }
        Ok(resolved)
    }

    /// Makes sure every ancestor of `rel` is a real directory, creating missing ones, and fails
    /// if one is a symlink or a file.
    fn ensure_parents(&mut self, rel: &Path, name: &str) -> Result<(), UnpackError> {
        let Some(parent) = rel.parent() else {
            return Ok(());
        };
        let mut prefix = PathBuf::new();
        for part in parent.components() {
            prefix.push(part);
            if !self.dirs.contains(&prefix) {
                self.ensure_dir(&prefix, name)?;
            }
        }
        Ok(())
    }

    fn ensure_dir(&mut self, rel: &Path, name: &str) -> Result<(), UnpackError> {
        if self.dirs.contains(rel) {
            return Ok(());
        }
        if self.symlinks.contains_key(rel) {
            return Err(through_link(name, rel));
        }
        let full = self.dest.join(rel);
        match fs::symlink_metadata(&full) {
            Ok(meta) if meta.is_dir() => {}
            Ok(meta) if meta.file_type().is_symlink() => return Err(through_link(name, rel)),
            Ok(_) => return Err(conflict(name, rel)),
            Err(err) if err.kind() == ErrorKind::NotFound => {
                DirBuilder::new()
                    .mode(0o755)
                    .create(&full)
                    .map_err(|source| write_error(name, source))?;
            }
            Err(source) => return Err(write_error(name, source)),
        }
        self.dirs.insert(rel.to_path_buf());
        Ok(())
    }

    fn creation_error(&self, name: &str, rel: &Path, source: io::Error) -> UnpackError {
        if source.kind() == ErrorKind::AlreadyExists {
            conflict(name, rel)
        } else {
            write_error(name, source)
        }
    }
}

/// Path components as names, with `None` for `..`; `.` and roots are dropped (callers reject
/// absolute paths before).
fn parts(path: &Path) -> impl Iterator<Item = Option<OsString>> + '_ {
    path.components().filter_map(|component| match component {
        Component::Normal(name) => Some(Some(name.to_os_string())),
        Component::ParentDir => Some(None),
        Component::CurDir | Component::RootDir | Component::Prefix(_) => None,
    })
}

fn conflict(name: &str, existing: &Path) -> UnpackError {
    UnpackError::Conflict {
        entry: name.to_owned(),
        existing: existing.display().to_string(),
    }
}

fn through_link(name: &str, link: &Path) -> UnpackError {
    UnpackError::ThroughLink {
        entry: name.to_owned(),
        link: link.display().to_string(),
    }
}

fn write_error(name: &str, source: io::Error) -> UnpackError {
    UnpackError::Write {
        entry: name.to_owned(),
        source,
    }
}
