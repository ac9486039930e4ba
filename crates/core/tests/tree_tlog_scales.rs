//! The tree module against tlog-scales 0.0.3 (PyPI), a second implementation nobody here
//! wrote, reading C2SP tile directories through `interop/tlogscales/check.py`: at sizes 1, 2,
//! 255, 256, 257, 65,536 and 70,000 of real 120-byte leaves, it accepts the checkpoint and
//! its witness cosignature, finds every tile and entry bundle consistent, computes our roots
//! (at that size and every earlier one) and our inclusion and consistency proofs, hash for
//! hash. Tampered tiles, entries, checkpoints, keys and cosignatures are refused at the stage
//! that should catch them. The other way round (`interop/tlogscales/write.py`), tlog-scales'
//! own writer, growing a directory through the same sizes, writes exactly the tiles and
//! checkpoints we compute.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::path::Path;

use trailseal_core::checkpoint::Checkpoint;
use trailseal_core::cosignature::WitnessSigner;
use trailseal_core::leaf::LEAF_LEN;
use trailseal_core::note::NoteSigner;
use trailseal_core::tree::{
    MerkleHash, Tile, TileKind, entry_tiles, hash_tiles, prove_record, prove_tree, tile_data,
    tree_hash,
};
use trailseal_testkit::signer;
use trailseal_testkit::tlog_scales::{
    CheckRequest, Refusal, TileDir, chain_leaves, check_tile_dir, entry_bundle,
    grow_with_tlog_scales, stored_hashes, tlog_scales_or_skip, write_tile_dir,
};

const SIZES: [u64; 7] = [1, 2, 255, 256, 257, 65_536, 70_000];
const ORIGIN: &str = "example.com/trailseal/tree";

/// The leaves of a real chain of `n` records.
fn leaves(n: u64) -> Vec<[u8; LEAF_LEN]> {
    chain_leaves("tlog-scales interop secret", n)
}

fn log_signer() -> NoteSigner {
    signer("log.example", 1)
}

fn witness(seed: u8) -> WitnessSigner {
    WitnessSigner::from_seed(&format!("witness{seed}.example"), &[seed; 32]).unwrap()
}

/// The body of a checkpoint of `size` and `root`.
fn body(size: u64, root: &MerkleHash) -> String {
    Checkpoint::new(ORIGIN, size, root.0).unwrap().body()
}

/// A small deterministic generator (xorshift) for the sampled indexes and sizes.
struct Rng(u64);
impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

fn b64_list(proof: &[MerkleHash]) -> Vec<String> {
    proof.iter().map(MerkleHash::to_base64).collect()
}

fn json_list(value: &serde_json::Value) -> Vec<String> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h.as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn tlog_scales_agrees_on_roots_proofs_and_tiles() {
    let Some(python) = tlog_scales_or_skip("tlog_scales_agrees_on_roots_proofs_and_tiles") else {
        return;
    };
    let entries = leaves(SIZES[SIZES.len() - 1]);
    let log = log_signer();
    let cosigner = witness(9);
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let mut proofs = 0;
    for (i, &t) in SIZES.iter().enumerate() {
        let tmp = tempfile::tempdir().unwrap();
        let TileDir {
            root,
            mut stored,
            checkpoint,
            ..
        } = write_tile_dir(tmp.path(), &entries[..t as usize], ORIGIN, &log);
        let cosigned = checkpoint + &cosigner.cosign(&body(t, &root), 1_700_000_000 + t).unwrap();
        std::fs::write(tmp.path().join("checkpoint"), &cosigned).unwrap();

        let mut sizes = vec![1, t];
        sizes.extend(SIZES[..i].iter().copied());
        sizes.extend((0..4).map(|_| 1 + rng.below(t)));
        let mut inclusion: Vec<(u64, u64)> = [0, t - 1, t / 2]
            .into_iter()
            .chain((0..8).map(|_| rng.below(t)))
            .map(|n| (t, n))
            .collect();
        // Older trees too, read from the current tiles.
        inclusion.extend(sizes.iter().map(|&s| (s, rng.below(s))));
        let consistency: Vec<(u64, u64)> = sizes.iter().map(|&old| (old, t)).collect();
        let request = CheckRequest {
            vkey: log.verifier().to_key_string(),
            witnesses: vec![cosigner.witness_key().to_vkey()],
            roots: sizes.clone(),
            inclusion,
            consistency,
        };
        let answer = check_tile_dir(&python, tmp.path(), &request)
            .unwrap_or_else(|r| panic!("size {t}: tlog-scales refused our tiles: {r:?}"));

        assert_eq!(answer["size"], t);
        assert_eq!(answer["root"], root.to_base64(), "size {t}: root");
        assert_eq!(answer["witnesses"][0]["name"], "witness9.example");
        assert_eq!(answer["witnesses"][0]["timestamps"][0], 1_700_000_000 + t);
        let full_tiles = hash_tiles(0, t).filter(|tile| tile.is_full()).count();
        assert_eq!(answer["full_tiles_checked"], full_tiles, "size {t}");
        assert_eq!(answer["entries_checked"], t, "size {t}");
        assert_eq!(answer["unread"], serde_json::json!([]), "size {t}");
        for s in &sizes {
            let ours = tree_hash(*s, &mut stored).unwrap().to_base64();
            assert_eq!(answer["roots"][s.to_string()], ours, "root at {s} of {t}");
        }
        for got in answer["inclusion"].as_array().unwrap() {
            let (s, n) = (
                got["size"].as_u64().unwrap(),
                got["index"].as_u64().unwrap(),
            );
            let ours = b64_list(&prove_record(s, n, &mut stored).unwrap());
            assert_eq!(json_list(&got["proof"]), ours, "inclusion of {n} in {s}");
            proofs += 1;
        }
        for got in answer["consistency"].as_array().unwrap() {
            let (old, new) = (got["old"].as_u64().unwrap(), got["new"].as_u64().unwrap());
            let ours = b64_list(&prove_tree(new, old, &mut stored).unwrap());
            assert_eq!(json_list(&got["proof"]), ours, "consistency {old} -> {new}");
            proofs += 1;
        }
        assert_eq!(
            answer["inclusion"].as_array().unwrap().len()
                + answer["consistency"].as_array().unwrap().len(),
            request.inclusion.len() + request.consistency.len()
        );
    }
    eprintln!(
        "tlog-scales: sizes {SIZES:?}: roots, tiles and entries agree; {proofs} proofs equal"
    );
}

/// Changes a copy of the good directory, or what the checker is asked.
type Tamper = Box<dyn Fn(&Path, &mut CheckRequest)>;

/// One tampering of a good directory and the stage that must refuse it.
struct Case {
    what: &'static str,
    stage: &'static str,
    tamper: Tamper,
}

fn flip(path: &Path, at: usize) {
    let mut bytes = std::fs::read(path).unwrap();
    bytes[at] ^= 0x20;
    std::fs::write(path, bytes).unwrap();
}

fn copy_dir(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            std::fs::create_dir(&target).unwrap();
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[test]
fn tlog_scales_refuses_tampered_directories() {
    let Some(python) = tlog_scales_or_skip("tlog_scales_refuses_tampered_directories") else {
        return;
    };
    // 70,000 = 273 full level-0 tiles + 112, one full level-1 tile + 17: full tiles at two
    // levels that the root alone does not read.
    const T: u64 = 70_000;
    let good = tempfile::tempdir().unwrap();
    let dir = write_tile_dir(good.path(), &leaves(T), ORIGIN, &log_signer());
    let root = dir.root;
    let cosign = |w: &WitnessSigner, size, root: &MerkleHash| {
        w.cosign(&body(size, root), 1_700_000_000).unwrap()
    };
    let cosigned = dir.checkpoint.clone() + &cosign(&witness(9), T, &root);
    std::fs::write(good.path().join("checkpoint"), &cosigned).unwrap();
    let request = CheckRequest {
        vkey: log_signer().verifier().to_key_string(),
        witnesses: vec![witness(9).witness_key().to_vkey()],
        ..CheckRequest::default()
    };
    // The untampered directory passes (so each refusal below is the tampering's doing).
    check_tile_dir(&python, good.path(), &request).unwrap();

    let checkpoint = |path: &Path, note: String| {
        std::fs::write(path.join("checkpoint"), note).unwrap();
    };
    let log_only = |size: u64, root: &MerkleHash| {
        Checkpoint::new(ORIGIN, size, root.0)
            .unwrap()
            .sign(&log_signer())
            .unwrap()
    };
    // Signed by the log and cosigned by the witness: only the tiles can show it is wrong.
    let signed =
        move |size: u64, root: &MerkleHash| log_only(size, root) + &cosign(&witness(9), size, root);
    let mut wrong_root = root;
    wrong_root.0[0] ^= 1;
    let cases = vec![
        Case {
            what: "a flipped byte in the log's signature",
            stage: "signature",
            tamper: Box::new(move |d, _| {
                let note = std::fs::read_to_string(d.join("checkpoint")).unwrap();
                let prefix = "\u{2014} log.example ";
                // Well inside the signature (the key id is the first 6 characters).
                let sig = note.find(prefix).unwrap() + prefix.len() + 40;
                let mut bytes = note.into_bytes();
                bytes[sig] = if bytes[sig] == b'A' { b'B' } else { b'A' };
                std::fs::write(d.join("checkpoint"), bytes).unwrap();
            }),
        },
        Case {
            what: "another log key under the same name",
            stage: "signature",
            tamper: Box::new(|_, r| r.vkey = signer("log.example", 2).verifier().to_key_string()),
        },
        Case {
            what: "a validly signed checkpoint with a wrong root",
            stage: "root",
            tamper: Box::new(move |d, _| checkpoint(d, signed(T, &wrong_root))),
        },
        Case {
            what: "a validly signed checkpoint of size 69,999 over these tiles",
            stage: "files",
            tamper: Box::new(move |d, _| checkpoint(d, signed(T - 1, &root))),
        },
        Case {
            what: "a flipped byte in tile/0/000 (full, off the right edge)",
            stage: "tiles",
            tamper: Box::new(|d, _| flip(&d.join("tile/0/000"), 4000)),
        },
        Case {
            what: "a flipped byte in tile/1/000 (full, off the right edge)",
            stage: "tiles",
            tamper: Box::new(|d, _| flip(&d.join("tile/1/000"), 8191)),
        },
        Case {
            what: "a flipped byte in the partial tile tile/0/273.p/112",
            stage: "root",
            tamper: Box::new(|d, _| flip(&d.join("tile/0/273.p/112"), 0)),
        },
        Case {
            what: "a flipped byte in the top tile tile/2/000.p/1",
            stage: "root",
            tamper: Box::new(|d, _| flip(&d.join("tile/2/000.p/1"), 17)),
        },
        Case {
            what: "a flipped byte in entry bundle tile/entries/005",
            stage: "entries",
            tamper: Box::new(|d, _| flip(&d.join("tile/entries/005"), 122 * 9 + 50)),
        },
        Case {
            what: "a missing entry bundle",
            stage: "files",
            tamper: Box::new(|d, _| {
                std::fs::remove_file(d.join("tile/entries/273.p/112")).unwrap()
            }),
        },
        Case {
            what: "a partial tile with one hash too many",
            stage: "files",
            tamper: Box::new(|d, _| {
                let path = d.join("tile/1/001.p/17");
                let mut bytes = std::fs::read(&path).unwrap();
                bytes.extend_from_slice(&[0; 32]);
                std::fs::write(path, bytes).unwrap();
            }),
        },
        Case {
            what: "a cosignature over another checkpoint",
            stage: "witness",
            tamper: Box::new(move |d, _| {
                checkpoint(d, log_only(T, &root) + &cosign(&witness(9), T - 1, &root));
            }),
        },
        Case {
            what: "a witness that did not cosign",
            stage: "witness",
            tamper: Box::new(|_, r| r.witnesses.push(witness(10).witness_key().to_vkey())),
        },
        Case {
            what: "a validly signed checkpoint with an extension line (tlog-scales cannot parse it)",
            stage: "checkpoint",
            tamper: Box::new(move |d, _| {
                let body = body(T, &root) + "extension\n";
                checkpoint(d, log_signer().sign(&body).unwrap());
            }),
        },
        Case {
            what: "text instead of the blank line before the signatures",
            stage: "checkpoint",
            tamper: Box::new(move |d, _| {
                checkpoint(d, signed(T, &root).replacen("\n\n", "\nnot blank\n", 1));
            }),
        },
        Case {
            what: "a stray line after the signatures",
            stage: "checkpoint",
            tamper: Box::new(move |d, _| checkpoint(d, signed(T, &root) + "stray\n")),
        },
        Case {
            what: "an inclusion proof for index = size (tlog-scales makes one; its check refuses it)",
            stage: "inclusion",
            tamper: Box::new(|_, r| r.inclusion.push((T, T))),
        },
        Case {
            what: "a consistency proof from size 0 (tlog-scales cannot make one)",
            stage: "consistency",
            tamper: Box::new(|_, r| r.consistency.push((0, T))),
        },
    ];
    // What a case got wrong, if anything.
    let run = |case: &Case| {
        let tmp = tempfile::tempdir().unwrap();
        copy_dir(good.path(), tmp.path());
        let mut request = request.clone();
        (case.tamper)(tmp.path(), &mut request);
        match check_tile_dir(&python, tmp.path(), &request) {
            Ok(_) => Some(format!("{}: accepted", case.what)),
            Err(Refusal { stage, error }) if stage != case.stage => Some(format!(
                "{}: refused at stage {stage}, not {} ({error})",
                case.what, case.stage
            )),
            Err(_) => None,
        }
    };
    let wrong: Vec<String> = cases.iter().filter_map(run).collect();
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    eprintln!(
        "tlog-scales: {} tampered directories or requests refused",
        cases.len()
    );
}

/// Every file under `dir/tile`, as paths relative to `dir`.
fn tile_files(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut todo = vec![dir.join("tile")];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                todo.push(path);
            } else {
                let relative = path.strip_prefix(dir).unwrap();
                out.push(relative.to_str().unwrap().to_owned());
            }
        }
    }
    out.sort();
    out
}

#[test]
fn tlog_scales_writer_grows_the_same_tiles_and_checkpoints() {
    let Some(python) =
        tlog_scales_or_skip("tlog_scales_writer_grows_the_same_tiles_and_checkpoints")
    else {
        return;
    };
    let entries = leaves(SIZES[SIZES.len() - 1]);
    let mut stored = stored_hashes(&entries);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("log");
    let log = log_signer();
    let commits = grow_with_tlog_scales(
        &python,
        &dir,
        &entries,
        &SIZES,
        ORIGIN,
        ("log.example", &[1; 32]),
    );
    assert_eq!(commits.len(), SIZES.len());
    let mut old = 0;
    let mut written = 0;
    for commit in &commits {
        let t = commit.size;
        // Its checkpoint opens with our verifier and is byte for byte the one we sign
        // (Ed25519 is deterministic).
        let checkpoint = Checkpoint::open(&commit.checkpoint, &log.verifier()).unwrap();
        let root = tree_hash(t, &mut stored).unwrap();
        assert_eq!((checkpoint.origin(), checkpoint.size()), (ORIGIN, t));
        assert_eq!(checkpoint.root(), &root.0, "size {t}: root");
        let ours = Checkpoint::new(ORIGIN, t, root.0)
            .unwrap()
            .sign(&log)
            .unwrap();
        assert_eq!(commit.checkpoint, ours, "size {t}: checkpoint text");
        // It wrote exactly the tiles our incremental listing says a tree growing from `old`
        // to `t` needs (full tiles once, partial tiles at their own paths).
        let mut want: Vec<String> = hash_tiles(old, t)
            .chain(entry_tiles(old, t))
            .map(|tile| tile.path())
            .collect();
        want.sort();
        assert_eq!(commit.written, want, "tiles written from {old} to {t}");
        written += want.len();
        old = t;
    }
    // Every file it left (the final tiles and the superseded partial ones) is a canonical
    // C2SP path whose bytes are ours.
    let files = tile_files(&dir);
    assert_eq!(files.len(), written, "a file was written twice or is stray");
    for path in &files {
        let tile = Tile::parse_path(path).unwrap();
        let ours = match tile.kind() {
            TileKind::Entries => entry_bundle(&tile, &entries),
            TileKind::Hash(_) => tile_data(&tile, &mut stored).unwrap(),
        };
        assert!(std::fs::read(dir.join(path)).unwrap() == ours, "{path}");
    }
    // The checker reads that directory too, and lists the superseded partial tiles as unread.
    let request = CheckRequest {
        vkey: log.verifier().to_key_string(),
        ..CheckRequest::default()
    };
    let answer = check_tile_dir(&python, &dir, &request).unwrap();
    let current: Vec<String> = hash_tiles(0, old)
        .chain(entry_tiles(0, old))
        .map(|tile| tile.path())
        .collect();
    let stale: Vec<&String> = files.iter().filter(|f| !current.contains(f)).collect();
    assert!(!stale.is_empty());
    assert_eq!(answer["unread"], serde_json::json!(stale));
    eprintln!(
        "tlog-scales' writer: {} commits up to {old}, {} files, all equal to ours",
        commits.len(),
        files.len()
    );
}
