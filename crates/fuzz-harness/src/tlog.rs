//! `tlog`: the bytes as the transparency log's untrusted inputs: checkpoints, proof files,
//! witness keys and cosignatures, tile paths, entry bundles, leaves and proofs.

use trailseal_core::checkpoint::Checkpoint;
use trailseal_core::cosignature::{WitnessKey, WitnessSigner, verify_cosignatures};
use trailseal_core::leaf::Leaf;
use trailseal_core::tlog_proof::TlogProof;
use trailseal_core::tree::{
    MerkleHash, Tile, check_record, check_tree, parse_entry_bundle, push_bundle_entry,
};

use super::fixtures;

/// A fixed witness for the cosignature readers.
fn witness() -> Option<WitnessSigner> {
    WitnessSigner::from_seed("fuzz-witness", &[7; 32]).ok()
}

/// `tlog`: nothing panics, and what parses prints back to itself: a checkpoint read from a
/// note (also behind a valid signature: the bytes signed here as a body), a proof file, a
/// witness key, a tile path, an entry bundle, a leaf; a proof built from the bytes is checked
/// against the sizes and hashes they give.
pub fn tlog(data: &[u8]) {
    let f = fixtures();
    let text = String::from_utf8_lossy(data);
    let witness = witness();
    let witnesses: Vec<WitnessKey> = witness.iter().map(|w| w.witness_key().clone()).collect();

    if let Ok(checkpoint) = Checkpoint::open(&text, &f.public) {
        assert!(
            checkpoint.size() < 1 << 63,
            "a checkpoint size over 2^63-1 opened"
        );
    }
    let _ = verify_cosignatures(&text, &witnesses);
    if let Ok(note) = f.signer.sign(&text)
        && let Ok(checkpoint) = Checkpoint::open(&note, &f.public)
    {
        assert_eq!(
            checkpoint.body(),
            *text,
            "a checkpoint is read from more than its body"
        );
        let resigned = checkpoint.sign(&f.signer).ok();
        assert_eq!(
            resigned.as_deref(),
            Some(note.as_str()),
            "re-signing changed the note"
        );
        if let Some(w) = &witness
            && let Ok(line) = w.cosign(&checkpoint.body(), 1)
        {
            let cosigned = format!("{note}{line}");
            let counted = verify_cosignatures(&cosigned, &witnesses).map(|c| c.len());
            assert_eq!(counted, Ok(1), "a fresh cosignature does not count once");
        }
    }
    if let Ok(proof) = TlogProof::parse(&text) {
        assert_eq!(
            TlogProof::parse(&proof.to_text()).ok().as_ref(),
            Some(&proof),
            "a proof file does not survive printing"
        );
        let _ = proof.open_checkpoint(&f.public);
    }
    if let Ok(key) = WitnessKey::parse_vkey(&text) {
        assert_eq!(key.to_vkey(), *text, "a vkey does not print back to itself");
    }
    if let Ok(tile) = Tile::parse_path(&text) {
        assert_eq!(
            tile.path(),
            *text,
            "a tile path does not print back to itself"
        );
    }
    if let Ok(leaf) = Leaf::parse(data) {
        assert_eq!(
            leaf.to_bytes().as_slice(),
            data,
            "a leaf does not print back to itself"
        );
    }
    let width = data.first().map_or(1, |w| u16::from(*w).max(1));
    if let Ok(entries) = parse_entry_bundle(data.get(1..).unwrap_or_default(), width) {
        let mut again = Vec::new();
        for entry in &entries {
            assert!(push_bundle_entry(&mut again, entry).is_ok());
        }
        assert_eq!(again.as_slice(), data.get(1..).unwrap_or_default());
    }
    proofs(data);
}

/// Sizes, an index and hashes taken from the bytes: the checks never panic.
fn proofs(data: &[u8]) {
    let word = |i: usize| {
        let mut b = [0u8; 8];
        if let Some(s) = data.get(i..i + 8) {
            b.copy_from_slice(s);
        }
        u64::from_be_bytes(b)
    };
    let (t, n) = (word(0), word(8));
    let hashes: Vec<MerkleHash> = data
        .get(16..)
        .unwrap_or_default()
        .chunks_exact(32)
        .filter_map(MerkleHash::from_slice)
        .collect();
    let (root, other) = (
        hashes.first().copied().unwrap_or_default(),
        hashes.last().copied().unwrap_or_default(),
    );
    let _ = check_record(hashes.get(1..).unwrap_or_default(), t, &root, n, &other);
    let _ = check_tree(hashes.get(1..).unwrap_or_default(), t, &root, n, &other);
}
