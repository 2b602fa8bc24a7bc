use std::fs;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use flate2::Compression;
use flate2::write::GzEncoder;
use tar::{Builder, EntryType, Header};
use tempfile::TempDir;

use super::tree::Tree;
use super::{UnpackError, UnpackLimits, unpack};

/// One archive entry, written with raw header bytes so hostile names survive (tar's builder
/// refuses `..` and absolute paths).
enum Item<'a> {
    Dir(&'a str),
    File(&'a str, &'a [u8]),
    Exec(&'a str, &'a [u8]),
    Symlink(&'a str, &'a str),
    Hardlink(&'a str, &'a str),
    Fifo(&'a str),
    GlobalPax(&'a str),
    /// A pax `size` record that overrides the header's size, followed by the entry.
    LyingSize(&'a str, usize),
}

fn header(kind: EntryType, name: &str, link: &str, size: u64, mode: u32) -> Header {
    let mut header = Header::new_gnu();
    header.set_entry_type(kind);
    header.set_size(size);
    header.set_mode(mode);
    let gnu = header.as_gnu_mut().unwrap();
    gnu.name[..name.len()].copy_from_slice(name.as_bytes());
    gnu.linkname[..link.len()].copy_from_slice(link.as_bytes());
    header.set_cksum();
    header
}

fn pax_record(key: &str, value: &str) -> Vec<u8> {
    let body = format!(" {key}={value}\n");
    let mut len = body.len() + 1;
    while format!("{len}{body}").len() != len {
        len += 1;
    }
    format!("{len}{body}").into_bytes()
}

fn archive(dir: &Path, items: &[Item<'_>]) -> PathBuf {
    let path = dir.join("archive.tar.gz");
    let mut builder = Builder::new(GzEncoder::new(
        fs::File::create(&path).unwrap(),
        Compression::fast(),
    ));
    for item in items {
        match *item {
            Item::Dir(name) => {
                let h = header(EntryType::Directory, name, "", 0, 0o755);
                builder.append(&h, &[][..]).unwrap();
            }
            Item::File(name, data) | Item::Exec(name, data) => {
                let mode = if matches!(item, Item::Exec(..)) {
                    0o4775
                } else {
                    0o664
                };
                let h = header(EntryType::Regular, name, "", data.len() as u64, mode);
                builder.append(&h, data).unwrap();
            }
            Item::Symlink(name, target) => {
                let h = header(EntryType::Symlink, name, target, 0, 0o777);
                builder.append(&h, &[][..]).unwrap();
            }
            Item::Hardlink(name, target) => {
                let h = header(EntryType::Link, name, target, 0, 0o644);
                builder.append(&h, &[][..]).unwrap();
            }
            Item::Fifo(name) => {
                let h = header(EntryType::Fifo, name, "", 0, 0o644);
                builder.append(&h, &[][..]).unwrap();
            }
            Item::GlobalPax(comment) => {
                let record = pax_record("comment", comment);
                let h = header(EntryType::XGlobalHeader, "pax_global_header", "", 0, 0o666);
                let mut h = h;
                h.set_size(record.len() as u64);
                h.set_cksum();
                builder.append(&h, &record[..]).unwrap();
            }
            Item::LyingSize(name, real) => {
                let record = pax_record("size", &real.to_string());
                let mut x = header(EntryType::XHeader, "PaxHeader/x", "", 0, 0o644);
                x.set_size(record.len() as u64);
                x.set_cksum();
                builder.append(&x, &record[..]).unwrap();
                // The ustar header claims 10 bytes; the pax record (which wins) says `real`.
                let h = header(EntryType::Regular, name, "", 10, 0o644);
                builder.append(&h, &vec![b'z'; real][..]).unwrap();
            }
        }
    }
    builder.into_inner().unwrap().finish().unwrap();
    path
}

fn unpack_items(
    items: &[Item<'_>],
    limits: &UnpackLimits,
) -> (TempDir, Result<PathBuf, UnpackError>) {
    let scratch = TempDir::new().unwrap();
    let path = archive(scratch.path(), items);
    let result = unpack(&path, &scratch.path().join("out"), limits);
    (scratch, result)
}

fn rejected(items: &[Item<'_>]) -> UnpackError {
    let (_scratch, result) = unpack_items(items, &UnpackLimits::default());
    result.unwrap_err()
}

#[test]
fn a_github_style_archive_is_unpacked_with_its_top_directory_stripped() {
    let (scratch, result) = unpack_items(
        &[
            Item::GlobalPax("52fd0c1b7f3e"),
            Item::Dir("acme-infra-52fd0c1/"),
            Item::File("acme-infra-52fd0c1/Pulumi.yaml", b"name: infra\n"),
            Item::Exec("acme-infra-52fd0c1/bin/run.sh", b"#!/bin/sh\n"),
            Item::File("acme-infra-52fd0c1/stacks/prod/index.ts", b"export {}\n"),
        ],
        &UnpackLimits::default(),
    );
    let root = result.unwrap();
    assert_eq!(root, scratch.path().join("out/acme-infra-52fd0c1"));
    assert_eq!(
        fs::read(root.join("Pulumi.yaml")).unwrap(),
        b"name: infra\n"
    );
    assert_eq!(
        fs::read(root.join("stacks/prod/index.ts")).unwrap(),
        b"export {}\n"
    );
    assert!(!scratch.path().join("out/pax_global_header").exists());
    // Executable bit kept, setuid and group write dropped; plain files 0644.
    let exec = fs::metadata(root.join("bin/run.sh")).unwrap().mode() & 0o7777;
    assert_eq!(exec, 0o755);
    let plain = fs::metadata(root.join("Pulumi.yaml")).unwrap().mode() & 0o7777;
    assert_eq!(plain, 0o644);
}

#[test]
fn an_archive_with_several_top_entries_keeps_the_destination_as_root() {
    let (scratch, result) = unpack_items(
        &[Item::File("a/x", b"1"), Item::File("b", b"2")],
        &UnpackLimits::default(),
    );
    assert_eq!(result.unwrap(), scratch.path().join("out"));
    assert_eq!(fs::read(scratch.path().join("out/a/x")).unwrap(), b"1");
}

#[test]
fn a_single_top_level_file_is_not_treated_as_a_directory_to_strip() {
    let (scratch, result) = unpack_items(&[Item::File("only.txt", b"1")], &UnpackLimits::default());
    assert_eq!(result.unwrap(), scratch.path().join("out"));
}

#[test]
fn a_non_empty_destination_is_refused() {
    let scratch = TempDir::new().unwrap();
    let path = archive(scratch.path(), &[Item::File("a", b"1")]);
    let dest = scratch.path().join("out");
    fs::create_dir(&dest).unwrap();
    fs::write(dest.join("leftover"), b"").unwrap();
    let err = unpack(&path, &dest, &UnpackLimits::default()).unwrap_err();
    assert!(matches!(err, UnpackError::DestNotEmpty { .. }), "{err}");
}

#[test]
fn an_absolute_path_is_rejected_and_named() {
    let err = rejected(&[Item::File("/tmp/iamgate-owned", b"x")]);
    assert!(matches!(err, UnpackError::AbsolutePath { .. }), "{err}");
    assert!(err.to_string().contains("/tmp/iamgate-owned"), "{err}");
    assert!(!Path::new("/tmp/iamgate-owned").exists());
}

#[test]
fn a_parent_component_is_rejected_and_named() {
    let err = rejected(&[Item::Dir("top/"), Item::File("top/../../escaped", b"x")]);
    assert!(matches!(err, UnpackError::ParentDir { .. }), "{err}");
    assert!(err.to_string().contains("top/../../escaped"), "{err}");
}

#[test]
fn a_symlink_pointing_outside_is_rejected() {
    for target in ["/etc/passwd", "../../etc", "../outside", "sub/../../.."] {
        let err = rejected(&[Item::Dir("top/"), Item::Symlink("top/link", target)]);
        assert!(
            matches!(err, UnpackError::LinkEscapes { .. }),
            "{target}: {err}"
        );
        assert!(err.to_string().contains("top/link"), "{err}");
    }
}

#[test]
fn a_symlink_escaping_through_another_symlink_is_rejected() {
    // `top/up` points at the checkout root (allowed alone); `top/esc -> up/..` then leaves it,
    // although lexically `top/up/..` is `top`.
    let err = rejected(&[
        Item::Dir("top/"),
        Item::Dir("top/a/"),
        Item::Symlink("top/a/up", ".."),
        Item::Symlink("top/esc", "a/up/../.."),
    ]);
    assert!(matches!(err, UnpackError::LinkEscapes { .. }), "{err}");
}

#[test]
fn a_link_made_harmless_only_by_order_is_checked_again_at_the_end() {
    // `top/sub/x -> d/../../..` resolves to the destination while `d` is a plain name; once
    // `top/sub/d -> .` exists, it resolves above the destination.
    let err = rejected(&[
        Item::Dir("top/"),
        Item::Dir("top/sub/"),
        Item::Symlink("top/sub/x", "d/../../.."),
        Item::Symlink("top/sub/d", "."),
    ]);
    assert!(matches!(err, UnpackError::LinkEscapes { .. }), "{err}");
}

#[test]
fn a_symlink_to_the_stripped_parent_is_rejected_even_inside_the_destination() {
    // Inside `out/` but outside the checkout root `out/top/`.
    let err = rejected(&[Item::Dir("top/"), Item::Symlink("top/up", "..")]);
    assert!(matches!(err, UnpackError::LinkEscapes { .. }), "{err}");
}

#[test]
fn relative_symlinks_that_stay_inside_are_kept() {
    let (_scratch, result) = unpack_items(
        &[
            Item::Dir("top/"),
            Item::File("top/shared/policy.json", b"{}"),
            Item::Dir("top/stacks/"),
            Item::Symlink("top/stacks/policy.json", "../shared/policy.json"),
            Item::Symlink("top/dangling", "not/yet/there"),
        ],
        &UnpackLimits::default(),
    );
    let root = result.unwrap();
    let link = root.join("stacks/policy.json");
    assert!(
        fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(fs::read(&link).unwrap(), b"{}");
}

#[test]
fn a_hardlink_pointing_outside_is_rejected() {
    let err = rejected(&[
        Item::Dir("top/"),
        Item::Hardlink("top/passwd", "/etc/passwd"),
    ]);
    assert!(matches!(err, UnpackError::LinkEscapes { .. }), "{err}");
    let err = rejected(&[
        Item::Dir("top/"),
        Item::Hardlink("top/passwd", "../etc/passwd"),
    ]);
    assert!(matches!(err, UnpackError::LinkEscapes { .. }), "{err}");
}

#[test]
fn a_hardlink_through_inside_symlinks_links_the_real_file() {
    let (_scratch, result) = unpack_items(
        &[
            Item::Dir("top/"),
            Item::File("top/real/f", b"data"),
            Item::Symlink("top/alias", "real"),
            Item::Symlink("top/l", "real/f"),
            Item::Hardlink("top/h1", "top/alias/f"),
            Item::Hardlink("top/h2", "top/l"),
        ],
        &UnpackLimits::default(),
    );
    let root = result.unwrap();
    for name in ["h1", "h2"] {
        let meta = fs::symlink_metadata(root.join(name)).unwrap();
        assert!(meta.is_file(), "{name} is not a regular file");
        assert_eq!(
            meta.ino(),
            fs::metadata(root.join("real/f")).unwrap().ino(),
            "{name}"
        );
    }
}

#[test]
fn a_hardlink_to_a_file_inside_shares_its_content() {
    let (_scratch, result) = unpack_items(
        &[
            Item::Dir("top/"),
            Item::File("top/a.txt", b"same"),
            Item::Hardlink("top/b.txt", "top/a.txt"),
        ],
        &UnpackLimits::default(),
    );
    let root = result.unwrap();
    assert_eq!(fs::read(root.join("b.txt")).unwrap(), b"same");
    assert_eq!(
        fs::metadata(root.join("a.txt")).unwrap().ino(),
        fs::metadata(root.join("b.txt")).unwrap().ino()
    );
}

#[test]
fn a_hardlink_to_a_missing_file_or_directory_is_rejected() {
    let err = rejected(&[Item::Dir("top/"), Item::Hardlink("top/h", "top/nothing")]);
    assert!(matches!(err, UnpackError::HardlinkTarget { .. }), "{err}");
    let err = rejected(&[
        Item::Dir("top/"),
        Item::Dir("top/d/"),
        Item::Hardlink("top/h", "top/d"),
    ]);
    assert!(matches!(err, UnpackError::HardlinkTarget { .. }), "{err}");
}

#[test]
fn a_file_written_through_a_planted_symlink_is_refused() {
    // Plant `top/dir` (a link inside the tree would be fine), then a file beneath it.
    let err = rejected(&[
        Item::Dir("top/"),
        Item::Dir("top/real/"),
        Item::Symlink("top/dir", "real"),
        Item::File("top/dir/file", b"through"),
    ]);
    assert!(matches!(err, UnpackError::ThroughLink { .. }), "{err}");
    assert!(err.to_string().contains("top/dir/file"), "{err}");
    // The same with the link as the file itself: the file never replaces or follows it.
    let err = rejected(&[
        Item::Dir("top/"),
        Item::File("top/target", b"keep"),
        Item::Symlink("top/f", "target"),
        Item::File("top/f", b"through"),
    ]);
    assert!(matches!(err, UnpackError::Conflict { .. }), "{err}");
}

#[test]
fn a_body_longer_than_announced_is_cut_at_the_limit_while_streaming() {
    let scratch = TempDir::new().unwrap();
    let mut tree = Tree::new(scratch.path().to_path_buf());
    let mut body = &[7u8; 100][..];
    let err = tree
        .write_file(Path::new("f"), "f", &mut body, (50, 1000), 0o644)
        .unwrap_err();
    assert!(
        matches!(err, UnpackError::TooLarge { limit: 1000 }),
        "{err}"
    );
    assert!(fs::metadata(scratch.path().join("f")).unwrap().len() <= 50);
    let mut body = &[7u8; 50][..];
    let written = tree
        .write_file(Path::new("g"), "g", &mut body, (50, 1000), 0o644)
        .unwrap();
    assert_eq!(written, 50);
}

#[test]
fn a_dot_slash_root_entry_is_accepted() {
    let (scratch, result) = unpack_items(
        &[
            Item::Dir("./"),
            Item::Dir("./top/"),
            Item::File("./top/x", b"1"),
        ],
        &UnpackLimits::default(),
    );
    assert_eq!(result.unwrap(), scratch.path().join("out/top"));
}

#[test]
fn a_duplicate_file_is_rejected_rather_than_overwritten() {
    let err = rejected(&[Item::File("top/a", b"1"), Item::File("top/a", b"2")]);
    assert!(matches!(err, UnpackError::Conflict { .. }), "{err}");
}

#[test]
fn fifos_are_rejected() {
    let err = rejected(&[Item::Dir("top/"), Item::Fifo("top/pipe")]);
    assert!(
        matches!(
            err,
            UnpackError::Unsupported {
                kind: "named pipe",
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn too_many_entries_are_rejected_and_the_limit_is_exact() {
    let items = [
        Item::Dir("top/"),
        Item::File("top/a", b"1"),
        Item::File("top/b", b"2"),
    ];
    let limits = |max_files| UnpackLimits {
        max_files,
        ..UnpackLimits::default()
    };
    let (_s, ok) = unpack_items(&items, &limits(3));
    ok.unwrap();
    let (_s, err) = unpack_items(&items, &limits(2));
    assert!(
        matches!(err, Err(UnpackError::TooManyFiles { limit: 2 })),
        "{err:?}"
    );
}

#[test]
fn too_many_bytes_are_rejected_and_the_limit_is_exact() {
    let items = [
        Item::File("top/a", &[1; 600]),
        Item::File("top/b", &[2; 400]),
    ];
    let limits = |max_bytes| UnpackLimits {
        max_bytes,
        ..UnpackLimits::default()
    };
    let (_s, ok) = unpack_items(&items, &limits(1000));
    ok.unwrap();
    let (_s, err) = unpack_items(&items, &limits(999));
    assert!(
        matches!(err, Err(UnpackError::TooLarge { limit: 999 })),
        "{err:?}"
    );
}

#[test]
fn a_pax_size_larger_than_the_ustar_header_is_counted_by_its_real_size() {
    let limits = UnpackLimits {
        max_bytes: 64 * 1024,
        ..UnpackLimits::default()
    };
    let (scratch, err) = unpack_items(&[Item::LyingSize("top/big", 1024 * 1024)], &limits);
    assert!(matches!(err, Err(UnpackError::TooLarge { .. })), "{err:?}");
    let written = fs::metadata(scratch.path().join("out/top/big")).map_or(0, |m| m.len());
    assert!(
        written <= 64 * 1024,
        "{written} bytes written past the limit"
    );
}

#[test]
fn deep_and_long_paths_are_rejected() {
    let limits = UnpackLimits {
        max_depth: 3,
        max_path_len: 40,
        ..UnpackLimits::default()
    };
    let (_s, ok) = unpack_items(&[Item::File("a/b/c", b"")], &limits);
    ok.unwrap();
    let (_s, err) = unpack_items(&[Item::File("a/b/c/d", b"")], &limits);
    assert!(
        matches!(err, Err(UnpackError::TooDeep { limit: 3, .. })),
        "{err:?}"
    );
    let long = format!("top/{}", "x".repeat(40));
    let (_s, err) = unpack_items(&[Item::File(&long, b"")], &limits);
    assert!(
        matches!(err, Err(UnpackError::PathTooLong { limit: 40, .. })),
        "{err:?}"
    );
}

#[test]
fn a_huge_long_name_record_is_refused_without_buffering_it() {
    let scratch = TempDir::new().unwrap();
    let path = scratch.path().join("a.tar.gz");
    let mut builder = Builder::new(GzEncoder::new(
        fs::File::create(&path).unwrap(),
        Compression::fast(),
    ));
    let name = vec![b'n'; 4 * 1024 * 1024];
    let mut long = header(
        EntryType::GNULongName,
        "././@LongLink",
        "",
        name.len() as u64,
        0o644,
    );
    long.set_cksum();
    builder.append(&long, &name[..]).unwrap();
    builder
        .append(&header(EntryType::Regular, "x", "", 0, 0o644), &[][..])
        .unwrap();
    builder.into_inner().unwrap().finish().unwrap();
    let err = unpack(&path, &scratch.path().join("out"), &UnpackLimits::default()).unwrap_err();
    assert!(matches!(err, UnpackError::HeaderTooLarge { .. }), "{err}");
}

#[test]
fn a_corrupt_archive_is_an_archive_error() {
    let scratch = TempDir::new().unwrap();
    let path = scratch.path().join("a.tar.gz");
    let mut gz = GzEncoder::new(fs::File::create(&path).unwrap(), Compression::fast());
    gz.write_all(&[0x55; 1000]).unwrap();
    gz.finish().unwrap();
    let err = unpack(&path, &scratch.path().join("out"), &UnpackLimits::default()).unwrap_err();
    assert!(matches!(err, UnpackError::Archive { .. }), "{err}");
    fs::write(&path, b"not gzip at all").unwrap();
    let err = unpack(
        &path,
        &scratch.path().join("out2"),
        &UnpackLimits::default(),
    )
    .unwrap_err();
    assert!(matches!(err, UnpackError::Archive { .. }), "{err}");
}

#[test]
fn directories_are_created_with_sane_modes_whatever_the_header_says() {
    let scratch = TempDir::new().unwrap();
    let path = scratch.path().join("a.tar.gz");
    let mut builder = Builder::new(GzEncoder::new(
        fs::File::create(&path).unwrap(),
        Compression::fast(),
    ));
    builder
        .append(
            &header(EntryType::Directory, "top/", "", 0, 0o7555),
            &[][..],
        )
        .unwrap();
    builder
        .append(
            &header(EntryType::Regular, "top/f", "", 1, 0o6777),
            &b"x"[..],
        )
        .unwrap();
    builder.into_inner().unwrap().finish().unwrap();
    let root = unpack(&path, &scratch.path().join("out"), &UnpackLimits::default()).unwrap();
    let dir_mode = fs::metadata(&root).unwrap().permissions().mode();
    assert_eq!(dir_mode & 0o7000, 0, "{dir_mode:o}");
    assert!(
        dir_mode & 0o200 != 0,
        "directory must stay writable for cleanup: {dir_mode:o}"
    );
    let file_mode = fs::metadata(root.join("f")).unwrap().permissions().mode() & 0o7777;
    assert_eq!(file_mode, 0o755);
}
