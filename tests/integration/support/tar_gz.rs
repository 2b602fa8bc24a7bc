//! The archive both fake forges serve: a gzipped tarball of `files` under one top directory,
//! named the way each forge names it. A sibling of the fakes in `support` (the demos and the
//! PR-flow bench, which include one fake by path, include this file beside it).

use std::collections::BTreeMap;

/// `files` (path → bytes) under the directory `top/`, as a `.tar.gz`.
pub fn tar_gz(top: &str, files: &BTreeMap<String, Vec<u8>>) -> Vec<u8> {
    let encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut builder = tar::Builder::new(encoder);
    let mut dir = tar::Header::new_gnu();
    dir.set_entry_type(tar::EntryType::Directory);
    dir.set_mode(0o755);
    dir.set_size(0);
    builder
        .append_data(&mut dir, format!("{top}/"), std::io::empty())
        .unwrap();
    for (path, bytes) in files {
        let mut header = tar::Header::new_gnu();
        header.set_mode(0o644);
        header.set_size(bytes.len() as u64);
        builder
            .append_data(&mut header, format!("{top}/{path}"), bytes.as_slice())
            .unwrap();
    }
    builder.into_inner().unwrap().finish().unwrap()
}
