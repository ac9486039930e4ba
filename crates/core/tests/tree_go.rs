//! The tree module against Go's reference `golang.org/x/mod/sumdb/tlog` (through
//! `interop/tlogcheck`): roots at sizes 1, 2, 255, 256, 257, 65,536 and 70,000; our inclusion
//! and consistency proofs accepted by `tlog.CheckRecord` / `tlog.CheckTree` and equal to Go's
//! own; our C2SP tiles exactly the tiles Go's layout has, byte for byte, and read back through
//! `tlog.TileHashReader`. Tampered proofs and tiles are refused by Go.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use trailseal_core::tree::{
    MerkleHash, append_stored_hashes, hash_tiles, leaf_hash, prove_record, prove_tree, tile_data,
    tree_hash,
};
use trailseal_testkit::go_tlogcheck;

const SIZES: [u64; 7] = [1, 2, 255, 256, 257, 65_536, 70_000];

/// Runs tlogcheck on `commands`; one answer a command.
fn go(commands: &[String]) -> Vec<String> {
    let mut child = Command::new(go_tlogcheck())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let input = commands.join("\n") + "\n";
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let answers: Vec<String> = BufReader::new(child.stdout.take().unwrap())
        .lines()
        .map(Result::unwrap)
        .collect();
    writer.join().unwrap().unwrap();
    assert!(child.wait().unwrap().success());
    assert_eq!(answers.len(), commands.len());
    answers
}

fn proof_text(proof: &[MerkleHash]) -> String {
    if proof.is_empty() {
        return "-".into();
    }
    proof
        .iter()
        .map(MerkleHash::to_base64)
        .collect::<Vec<_>>()
        .join(",")
}

/// Our stored hashes for the entries "leaf 0", "leaf 1", ... (the ones tlogcheck uses).
fn build(size: u64) -> Vec<MerkleHash> {
    let mut stored = Vec::new();
    let mut added = Vec::new();
    for n in 0..size {
        added.clear();
        let leaf = leaf_hash(format!("leaf {n}").as_bytes());
        append_stored_hashes(n, leaf, &mut stored, &mut added).unwrap();
        stored.extend_from_slice(&added);
    }
    stored
}

/// A small deterministic generator (xorshift) for the sampled indexes.
struct Rng(u64);
impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// What one command expects back.
enum Want {
    Exact(String),
    Refused,
}

#[test]
fn go_tlog_agrees_on_roots_proofs_and_tiles() {
    let max = SIZES[SIZES.len() - 1];
    let mut store = build(max);
    let root = |store: &mut Vec<MerkleHash>, t| tree_hash(t, store).unwrap();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut commands = Vec::new();
    let mut wants = Vec::new();
    let mut push = |command: String, want: Want| {
        commands.push(command);
        wants.push(want);
    };
    let mut tampered = 0;
    for (i, &t) in SIZES.iter().enumerate() {
        let root_t = root(&mut store, t);
        push(
            format!("tree {t}"),
            Want::Exact(format!("root {}", root_t.to_base64())),
        );
        // Inclusion: the edges and random records; Go accepts ours and proves the same.
        let mut records = vec![0, t - 1, t / 2];
        records.extend((0..20).map(|_| rng.below(t)));
        for n in records {
            let proof = prove_record(t, n, &mut store).unwrap();
            let text = proof_text(&proof);
            push(
                format!("inclusion {t} {n} {} {text}", root_t.to_base64()),
                Want::Exact("ok".into()),
            );
            push(
                format!("prove-inclusion {t} {n}"),
                Want::Exact(format!("proof {text}")),
            );
        }
        // Consistency: from 1, from t, from every earlier size and random sizes.
        let mut olds = vec![1, t];
        olds.extend(SIZES[..i].iter().copied());
        olds.extend((0..20).map(|_| 1 + rng.below(t)));
        for n in olds {
            let proof = prove_tree(t, n, &mut store).unwrap();
            let text = proof_text(&proof);
            push(
                format!(
                    "consistency {t} {n} {} {} {text}",
                    root_t.to_base64(),
                    root(&mut store, n).to_base64()
                ),
                Want::Exact("ok".into()),
            );
            push(
                format!("prove-consistency {t} {n}"),
                Want::Exact(format!("proof {text}")),
            );
        }
        // Tiles: ours, exactly Go's set and contents, and readable through TileHashReader.
        push("clear-tiles".into(), Want::Exact("cleared".into()));
        let tiles: Vec<_> = hash_tiles(0, t).collect();
        let data: Vec<Vec<u8>> = tiles
            .iter()
            .map(|tile| tile_data(tile, &mut store).unwrap())
            .collect();
        for (tile, bytes) in tiles.iter().zip(&data) {
            push(
                format!(
                    "tile {} {}",
                    tile.path(),
                    trailseal_core::base64::encode(bytes)
                ),
                Want::Exact("stored".into()),
            );
        }
        push(
            format!("check-tiles {t} {}", root_t.to_base64()),
            Want::Exact("ok".into()),
        );
        // Tampering: Go refuses a flipped bit in a proof, an extra or a missing hash, and a
        // flipped bit in a tile.
        if t > 2 {
            let n = rng.below(t);
            let mut proof = prove_record(t, n, &mut store).unwrap();
            proof[0].0[7] ^= 0x10;
            push(
                format!(
                    "inclusion {t} {n} {} {}",
                    root_t.to_base64(),
                    proof_text(&proof)
                ),
                Want::Refused,
            );
            proof[0].0[7] ^= 0x10;
            proof.push(root_t);
            push(
                format!(
                    "inclusion {t} {n} {} {}",
                    root_t.to_base64(),
                    proof_text(&proof)
                ),
                Want::Refused,
            );
            let old = 1 + rng.below(t - 1);
            let mut proof = prove_tree(t, old, &mut store).unwrap();
            let last = proof.len() - 1;
            proof[last].0[31] ^= 1;
            let root_old = root(&mut store, old).to_base64();
            push(
                format!(
                    "consistency {t} {old} {} {root_old} {}",
                    root_t.to_base64(),
                    proof_text(&proof)
                ),
                Want::Refused,
            );
            proof.pop();
            push(
                format!(
                    "consistency {t} {old} {} {root_old} {}",
                    root_t.to_base64(),
                    proof_text(&proof)
                ),
                Want::Refused,
            );
            for k in [0, tiles.len() - 1] {
                let mut bad = data[k].clone();
                let mid = bad.len() / 2;
                bad[mid] ^= 4;
                push(
                    format!(
                        "tile {} {}",
                        tiles[k].path(),
                        trailseal_core::base64::encode(&bad)
                    ),
                    Want::Exact("stored".into()),
                );
                push(
                    format!("check-tiles {t} {}", root_t.to_base64()),
                    Want::Refused,
                );
                push(
                    format!("read-tiles {t} {}", root_t.to_base64()),
                    Want::Refused,
                );
                push(
                    format!(
                        "tile {} {}",
                        tiles[k].path(),
                        trailseal_core::base64::encode(&data[k])
                    ),
                    Want::Exact("stored".into()),
                );
            }
            push(
                format!("read-tiles {t} {}", root_t.to_base64()),
                Want::Exact("ok".into()),
            );
            tampered += 1;
        }
    }
    assert_eq!(tampered, 5);
    let answers = go(&commands);
    let mut refused = 0;
    for ((command, want), answer) in commands.iter().zip(&wants).zip(&answers) {
        let shown: String = command.chars().take(120).collect();
        match want {
            Want::Exact(text) => assert_eq!(answer, text, "{shown}"),
            Want::Refused => {
                assert!(answer.starts_with("refused "), "{shown}: {answer}");
                refused += 1;
            }
        }
    }
    eprintln!(
        "tlogcheck: {} commands, {refused} tampered inputs refused",
        commands.len()
    );
}
