//! `trailseal tiles`: the tile directory it writes, read by code nobody here wrote (Go's
//! `golang.org/x/mod/sumdb/tlog` through `interop/tlogcheck check-dir`, and tlog-scales from
//! PyPI through `interop/tlogscales/check.py`) at sizes 1, 2, 255, 256, 257, 65,536 and
//! 70,000; incremental runs (full tiles never rewritten, the checkpoint consistent, no partial
//! tile at a full path); damage, forks, rollbacks and other logs' directories refused.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::print_stderr
)]

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::{run_with, text};
use trailseal::core::checkpoint::Checkpoint;
use trailseal::core::note::NoteVerifier;
use trailseal::core::tree::{MerkleHash, Tile, TileHashReader, TileSource, tree_hash};
use trailseal::{AuditLog, OpenMode, OpenOptions};
use trailseal_testkit::tlog_scales::{CheckRequest, check_tile_dir, tlog_scales_or_skip};
use trailseal_testkit::{Trace, go_tlogcheck, key};

const SECRET: &str = "tiles-cli-test-secret-of-32-bytes!!";
const ORIGIN: &str = "example.com/tiles-test/tree";

/// A store at `path` grown to `size` records (batched appends).
fn grow(path: &Path, size: u64) {
    let options = OpenOptions {
        mode: OpenMode::Write { create: true },
        ..OpenOptions::default()
    };
    let mut log = AuditLog::open(path.to_str().unwrap(), &options)
        .unwrap()
        .with_key(key(SECRET));
    let have = log
        .store_mut()
        .state()
        .unwrap()
        .head
        .map_or(0, |(s, _)| s + 1);
    let mut next = have;
    while next < size {
        let end = size.min(next + 5000);
        let texts: Vec<String> = (next..end)
            .map(|i| Trace::new(format!("{}-{i}", tag(path))).json())
            .collect();
        let prepared = log.prepare(texts.iter().map(String::as_bytes)).unwrap();
        log.append(&prepared).unwrap();
        next = end;
    }
}

/// Distinct action ids per store file, so a fork differs from its original.
fn tag(path: &Path) -> String {
    path.file_stem().unwrap().to_string_lossy().into_owned()
}

/// A signing key `dir/name` and its public key (the vkey text).
fn keygen(dir: &Path, name: &str) -> (PathBuf, String) {
    let key = dir.join(name);
    let o = run_with(&["keygen", "--out", key.to_str().unwrap()], None, b"");
    assert!(o.status.success(), "{}", text(&o.stderr));
    let vkey = std::fs::read_to_string(dir.join(format!("{name}.pub"))).unwrap();
    (key, vkey.trim().to_owned())
}

/// `trailseal tiles` on `store` into `out`.
fn tiles(store: &Path, signing_key: &Path, out: &Path) -> std::process::Output {
    run_with(
        &[
            "tiles",
            "--store",
            store.to_str().unwrap(),
            "--signing-key",
            signing_key.to_str().unwrap(),
            "--origin",
            ORIGIN,
            "--out",
            out.to_str().unwrap(),
        ],
        Some(SECRET),
        b"",
    )
}

fn tiles_ok(store: &Path, signing_key: &Path, out: &Path) -> String {
    let o = tiles(store, signing_key, out);
    assert!(
        o.status.success(),
        "tiles failed: {}{}",
        text(&o.stdout),
        text(&o.stderr)
    );
    text(&o.stdout)
}

/// Go's tlog on a tile directory: "ok ..." or "refused ...".
fn go_check_dir(dir: &Path, vkey: &str) -> String {
    let mut child = Command::new(go_tlogcheck())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    writeln!(stdin, "check-dir {} {vkey}", dir.display()).unwrap();
    drop(stdin);
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(child.wait().unwrap().success());
    line.trim().to_owned()
}

/// The checkpoint in `dir`, opened with `vkey`.
fn checkpoint(dir: &Path, vkey: &str) -> Checkpoint {
    let note = std::fs::read_to_string(dir.join("checkpoint")).unwrap();
    Checkpoint::open(&note, &NoteVerifier::parse(vkey).unwrap()).unwrap()
}

/// Tiles read from a directory's files, for the core's `TileHashReader`.
struct Files<'a>(&'a Path);

impl TileSource for Files<'_> {
    type Error = std::io::Error;
    fn read_tile(&mut self, tile: &Tile) -> Result<Vec<u8>, std::io::Error> {
        std::fs::read(self.0.join(tile.path()))
    }
}

/// Every file under `dir`: relative path → (inode, mtime, length).
fn files(dir: &Path) -> BTreeMap<String, (u64, std::time::SystemTime, u64)> {
    use std::os::unix::fs::MetadataExt;
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let entry = entry.unwrap();
            let meta = std::fs::symlink_metadata(entry.path()).unwrap();
            assert!(!meta.file_type().is_symlink());
            if meta.is_dir() {
                stack.push(entry.path());
            } else {
                let rel = entry
                    .path()
                    .strip_prefix(dir)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                out.insert(rel, (meta.ino(), meta.modified().unwrap(), meta.len()));
            }
        }
    }
    out
}

#[test]
fn every_size_is_read_by_go_and_tlog_scales() {
    let python = tlog_scales_or_skip("every_size_is_read_by_go_and_tlog_scales");
    let tmp = tempfile::tempdir().unwrap();
    let (signing, vkey) = keygen(tmp.path(), "log");
    let store = tmp.path().join("sizes.db");
    for size in [1u64, 2, 255, 256, 257, 65_536, 70_000] {
        grow(&store, size);
        let out = tmp.path().join(format!("tiles-{size}"));
        let said = tiles_ok(&store, &signing, &out);
        assert!(said.contains(&format!("size {size},")), "{said}");
        let cp = checkpoint(&out, &vkey);
        assert_eq!((cp.origin(), cp.size()), (ORIGIN, size));
        let go = go_check_dir(&out, &vkey);
        let tiles = trailseal::core::tree::hash_tiles(0, size).count();
        assert_eq!(
            go,
            format!("ok size {size} entries {size} tiles {tiles} stale 0"),
            "size {size}"
        );
        if let Some(python) = &python {
            let request = CheckRequest {
                vkey: vkey.clone(),
                inclusion: vec![(size, 0), (size, size - 1), (size, size / 2)],
                consistency: if size > 1 { vec![(1, size)] } else { vec![] },
                ..CheckRequest::default()
            };
            let answer = check_tile_dir(python, &out, &request)
                .unwrap_or_else(|r| panic!("size {size}: tlog-scales refused: {r:?}"));
            assert_eq!(answer["ok"], true);
        }
        // Only files, readable by a web server.
        for (path, _) in files(&out) {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(out.join(&path))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o644, "{path}");
        }
        std::fs::remove_dir_all(&out).unwrap();
    }
}

#[test]
fn incremental_runs_never_rewrite_a_tile_and_keep_the_checkpoint_consistent() {
    let tmp = tempfile::tempdir().unwrap();
    let (signing, vkey) = keygen(tmp.path(), "log");
    let store = tmp.path().join("grow.jsonl");
    let out = tmp.path().join("tiles");
    let mut before: BTreeMap<String, (u64, std::time::SystemTime, u64)> = BTreeMap::new();
    let mut old: Option<Checkpoint> = None;
    let mut stale_seen = 0;
    for size in [1u64, 3, 255, 256, 300, 512, 513, 1000, 65_537] {
        grow(&store, size);
        tiles_ok(&store, &signing, &out);
        let now = files(&out);
        // Nothing written before was rewritten or removed (the checkpoint aside).
        for (path, meta) in &before {
            if path != "checkpoint" {
                assert_eq!(now.get(path), Some(meta), "size {size}: {path} changed");
            }
        }
        // No partial tile at a full tile's path.
        for (path, (_, _, len)) in &now {
            if path == "checkpoint" || path.contains(".p/") {
                continue;
            }
            let tile = Tile::parse_path(path).unwrap();
            assert!(tile.is_full());
            let want = if path.starts_with("tile/entries/") {
                256 * 122
            } else {
                8192
            };
            assert_eq!(*len, want, "{path}");
        }
        let cp = checkpoint(&out, &vkey);
        assert_eq!(cp.size(), size);
        // The new checkpoint extends the old one: the tiles give the old root at its size.
        if let Some(old) = &old {
            let mut reader = TileHashReader::new(size, MerkleHash(*cp.root()), Files(&out));
            let at_old = tree_hash(old.size(), &mut reader).unwrap();
            assert_eq!(at_old.0, *old.root(), "size {size}");
        }
        let go = go_check_dir(&out, &vkey);
        assert!(go.starts_with(&format!("ok size {size} ")), "{go}");
        stale_seen = go
            .rsplit(' ')
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        old = Some(cp);
        before = now;
    }
    assert!(stale_seen > 0, "superseded partial tiles are left in place");
    // Running again at the same size writes nothing, not even the checkpoint.
    let said = tiles_ok(&store, &signing, &out);
    assert!(said.contains("already up to date"), "{said}");
    assert_eq!(files(&out), before);
}

#[test]
fn a_damaged_full_tile_is_refused_and_nothing_is_published() {
    let tmp = tempfile::tempdir().unwrap();
    let (signing, vkey) = keygen(tmp.path(), "log");
    let store = tmp.path().join("damage.db");
    let out = tmp.path().join("tiles");
    grow(&store, 600);
    tiles_ok(&store, &signing, &out);
    grow(&store, 700);
    for victim in ["tile/0/000", "tile/entries/001"] {
        let path = out.join(victim);
        let good = std::fs::read(&path).unwrap();
        let mut bad = good.clone();
        bad[100] ^= 1;
        std::fs::write(&path, &bad).unwrap();
        let checkpoint_before = std::fs::read(out.join("checkpoint")).unwrap();
        let listing = files(&out);
        let o = tiles(&store, &signing, &out);
        assert_eq!(o.status.code(), Some(2), "{victim}: {}", text(&o.stderr));
        assert!(
            text(&o.stderr).contains(&format!("{victim}: holds something else than this tile")),
            "{}",
            text(&o.stderr)
        );
        assert_eq!(
            std::fs::read(out.join("checkpoint")).unwrap(),
            checkpoint_before
        );
        assert_eq!(checkpoint(&out, &vkey).size(), 600);
        // The run stopped at the damage: it wrote nothing after it (bundles come first).
        if victim.starts_with("tile/entries") {
            assert_eq!(files(&out), listing);
        }
        std::fs::write(&path, &good).unwrap();
    }
    // A symbolic link where a tile goes is never followed.
    let target = tmp.path().join("elsewhere");
    std::fs::write(&target, b"x").unwrap();
    std::fs::remove_file(out.join("tile/0/001")).unwrap();
    std::os::unix::fs::symlink(&target, out.join("tile/0/001")).unwrap();
    let o = tiles(&store, &signing, &out);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    assert_eq!(std::fs::read(&target).unwrap(), b"x");
    std::fs::remove_file(out.join("tile/0/001")).unwrap();
    // A missing tile is written again (it is what the tree gives), then the checkpoint.
    tiles_ok(&store, &signing, &out);
    assert_eq!(checkpoint(&out, &vkey).size(), 700);
    assert!(go_check_dir(&out, &vkey).starts_with("ok size 700 "));
}

#[test]
fn forks_rollbacks_and_other_logs_directories_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let (signing, vkey) = keygen(tmp.path(), "log");
    let (other_key, _) = keygen(tmp.path(), "other");
    let dir_a = tmp.path().join("a");
    let dir_b = tmp.path().join("b");
    std::fs::create_dir_all(&dir_a).unwrap();
    std::fs::create_dir_all(&dir_b).unwrap();
    // Two stores that share their first 200 records, then differ.
    let original = dir_a.join("chain.jsonl");
    grow(&original, 200);
    let fork = dir_b.join("chain.jsonl");
    std::fs::copy(&original, &fork).unwrap();
    std::fs::copy(tree_file(&original), tree_file(&fork)).unwrap();
    let rollback = tmp.path().join("rollback.jsonl");
    std::fs::copy(&original, &rollback).unwrap();
    std::fs::copy(tree_file(&original), tree_file(&rollback)).unwrap();
    grow(&original, 300);
    grow_with_other_ids(&fork, 350);
    let out = tmp.path().join("tiles");
    tiles_ok(&original, &signing, &out);
    let published = files(&out);
    let refused = |store: &Path, signing_key: &Path, code: i32, needle: &str| {
        let o = tiles(store, signing_key, &out);
        assert_eq!(o.status.code(), Some(code), "{}", text(&o.stderr));
        assert!(text(&o.stderr).contains(needle), "{}", text(&o.stderr));
        assert_eq!(files(&out), published, "the directory changed");
    };
    refused(&fork, &signing, 1, "the store forked");
    refused(&rollback, &signing, 1, "truncated or rolled back");
    refused(
        &original,
        &other_key,
        2,
        "does not open as a checkpoint signed by this log's key",
    );
    assert_eq!(checkpoint(&out, &vkey).size(), 300);
}

fn tree_file(store: &Path) -> PathBuf {
    PathBuf::from(format!("{}.tree", store.display()))
}

/// Grows `path` with action ids no other store uses.
fn grow_with_other_ids(path: &Path, size: u64) {
    let options = OpenOptions {
        mode: OpenMode::Write { create: false },
        ..OpenOptions::default()
    };
    let mut log = AuditLog::open(path.to_str().unwrap(), &options)
        .unwrap()
        .with_key(key(SECRET));
    let have = log
        .store_mut()
        .state()
        .unwrap()
        .head
        .map_or(0, |(s, _)| s + 1);
    let texts: Vec<String> = (have..size)
        .map(|i| Trace::new(format!("forked-{i}")).json())
        .collect();
    let prepared = log.prepare(texts.iter().map(String::as_bytes)).unwrap();
    log.append(&prepared).unwrap();
}

#[test]
fn a_store_that_does_not_verify_publishes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let (signing, _) = keygen(tmp.path(), "log");
    let store = tmp.path().join("bad.jsonl");
    grow(&store, 10);
    let body = std::fs::read_to_string(&store).unwrap();
    let edited = body.replacen("bad-3", "bad-X", 1);
    assert_ne!(body, edited);
    std::fs::write(&store, edited).unwrap();
    let out = tmp.path().join("tiles");
    let o = tiles(&store, &signing, &out);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("does not verify"),
        "{}",
        text(&o.stderr)
    );
    assert!(files(&out).is_empty(), "nothing is published");
}

#[test]
fn a_store_without_a_tree_needs_sync_tree() {
    let tmp = tempfile::tempdir().unwrap();
    let (signing, vkey) = keygen(tmp.path(), "log");
    let store = tmp.path().join("notree.jsonl");
    grow(&store, 300);
    // As weaver-kernel leaves it: records, no tree.
    std::fs::remove_file(tree_file(&store)).unwrap();
    let out = tmp.path().join("tiles");
    let o = tiles(&store, &signing, &out);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("has no Merkle tree"),
        "{}",
        text(&o.stderr)
    );
    assert!(
        text(&o.stderr).contains("--sync-tree"),
        "{}",
        text(&o.stderr)
    );
    assert!(files(&out).is_empty());
    let o = run_with(
        &[
            "tiles",
            "--store",
            store.to_str().unwrap(),
            "--signing-key",
            signing.to_str().unwrap(),
            "--origin",
            ORIGIN,
            "--out",
            out.to_str().unwrap(),
            "--sync-tree",
        ],
        Some(SECRET),
        b"",
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(checkpoint(&out, &vkey).size(), 300);
    assert!(go_check_dir(&out, &vkey).starts_with("ok size 300 "));
}

#[test]
fn pruning_keeps_the_published_directory_growing() {
    let tmp = tempfile::tempdir().unwrap();
    let (signing, vkey) = keygen(tmp.path(), "log");
    let store = tmp.path().join("pruned.db");
    let out = tmp.path().join("tiles");
    grow(&store, 1000);
    tiles_ok(&store, &signing, &out);
    let o = run_with(
        &[
            "prune",
            "--store",
            store.to_str().unwrap(),
            "--keep-last",
            "500",
        ],
        Some(SECRET),
        b"",
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    grow(&store, 1100);
    let o = tiles(&store, &signing, &out);
    assert!(o.status.success(), "{}", text(&o.stderr));
    // Bundles 0 and 1 start before seq 500: their records are gone, the published ones stay.
    assert!(
        text(&o.stderr).contains("2 entry bundle(s) not written: their records were pruned"),
        "{}",
        text(&o.stderr)
    );
    assert_eq!(checkpoint(&out, &vkey).size(), 1100);
    assert!(go_check_dir(&out, &vkey).starts_with("ok size 1100 "));
}
