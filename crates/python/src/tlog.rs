//! The transparency log from Python (format.md §12): checkpoints (cosigned by witnesses),
//! inclusion proof files, consistency proofs, tiles, and `verify_proof` offline. Each does
//! what the command of the same name does (crates/cli/src/commands), with the GIL released;
//! the `Log` methods in `log.rs` call these.

use std::path::PathBuf;

use pyo3::prelude::*;
use trailseal::core::checkpoint::{check_origin, tree_origin};
use trailseal::core::cosignature::WitnessKey;
use trailseal::core::tree::MerkleHash;
use trailseal::signing::{read_public_key, read_signing_key};
use trailseal::store::atomic::{PRIVATE, PUBLIC, WriteError, Written, write_once};
use trailseal::tlog::{CheckpointWrite, verify_proof_bytes};
use trailseal::witness::{CosignError, CosignOptions, WitnessEndpoint};

use crate::errors::{Class, Raised, Result};
use crate::log::{Log, default_origin};

/// `(origin, size, root, first_seq, note, written, replaced_size, not_in_tree, witness
/// reports, cosignatures)`: what `Log.checkpoint` made and did.
pub(crate) type CheckpointTuple = (
    String,
    u64,
    String,
    u64,
    String,
    Option<&'static str>,
    Option<u64>,
    Option<(u64, u64)>,
    Vec<String>,
    Option<usize>,
);

/// `(proof text, seq, index, origin, size, with_trace, created)`.
pub(crate) type ProofTuple = (String, u64, u64, String, u64, bool, Option<bool>);

/// `(origin, size, root, previous, hash_tiles, entry_bundles, kept, pruned_bundles,
/// uncovered, checkpoint_written)`.
pub(crate) type TilesTuple = (
    String,
    u64,
    String,
    Option<u64>,
    u64,
    u64,
    u64,
    u64,
    Option<(u64, u64)>,
    bool,
);

/// The checkpoint origin: as given (checked), or the anchor's default followed by `/tree`.
fn origin_of(origin: Option<String>, shown: &str) -> Result<String> {
    match origin {
        Some(o) => {
            check_origin(&o)
                .map_err(|e| Raised::new(Class::InvalidTrace, format!("origin: {e}")))?;
            Ok(o)
        }
        None => tree_origin(&default_origin(shown)).map_err(|e| {
            Raised::new(
                Class::InvalidTrace,
                format!("the default origin: {e}; give origin"),
            )
        }),
    }
}

/// `URL=VKEY` texts as witness endpoints; the message names the witness by its position and
/// shows no more of the text than the URL.
fn endpoints(witnesses: &[String]) -> Result<Vec<WitnessEndpoint>> {
    witnesses
        .iter()
        .enumerate()
        .map(|(i, text)| {
            WitnessEndpoint::parse(text.trim())
                .map_err(|e| Raised::new(Class::InvalidTrace, format!("witness #{}: {e}", i + 1)))
        })
        .collect()
}

/// Witness vkeys; the message names the key by its position.
pub(crate) fn witness_keys(keys: &[String]) -> Result<Vec<WitnessKey>> {
    keys.iter()
        .enumerate()
        .map(|(i, text)| {
            WitnessKey::parse_vkey(text.trim()).map_err(|e| {
                Raised::new(Class::InvalidTrace, format!("witness key #{}: {e}", i + 1))
            })
        })
        .collect()
}

fn written(
    path: &std::path::Path,
    result: std::result::Result<Written, WriteError>,
) -> Result<bool> {
    match result {
        Ok(w) => Ok(w == Written::Created),
        Err(WriteError::Exists) => Err(Raised::new(
            Class::Store,
            format!("{}: already exists; nothing was written", path.display()),
        )),
        Err(e) => Err(Raised::new(
            Class::Store,
            format!("{}: {e}", path.display()),
        )),
    }
}

/// Witnesses and what to do with them: `(endpoints, state file, options)`.
struct Cosign {
    endpoints: Vec<WitnessEndpoint>,
    state: PathBuf,
    options: CosignOptions,
}

impl Log {
    /// The witness state file: as given, or beside a file store.
    fn witness_state(&self, given: Option<PathBuf>) -> Result<PathBuf> {
        if let Some(p) = given {
            return Ok(p);
        }
        match self.file_location() {
            Some(store) => Ok(PathBuf::from(format!("{store}.witness-state"))),
            None => Err(Raised::new(
                Class::InvalidTrace,
                "witness_state: needed for a store that is not a file",
            )),
        }
    }

    /// See `Log.checkpoint` in `log.rs`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn make_checkpoint(
        &self,
        py: Python<'_>,
        signing_key: PathBuf,
        also_signing_keys: Vec<PathBuf>,
        origin: Option<String>,
        out: Option<PathBuf>,
        witnesses: Vec<String>,
        quorum: Option<usize>,
        witness_state: Option<PathBuf>,
        witness_timeout_micros: Option<u64>,
    ) -> Result<CheckpointTuple> {
        let signer = read_signing_key(&signing_key)?;
        if !also_signing_keys.is_empty() && !witnesses.is_empty() {
            return Err(Raised::new(
                Class::InvalidTrace,
                "also_signing_keys cannot be combined with witnesses",
            ));
        }
        let extra = also_signing_keys
            .iter()
            .map(|p| read_signing_key(p))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let verifier = signer.verifier();
        let origin = origin_of(origin, self.shown())?;
        let cosign = if witnesses.is_empty() {
            if quorum.is_some() || witness_state.is_some() || witness_timeout_micros.is_some() {
                return Err(Raised::new(
                    Class::InvalidTrace,
                    "quorum, witness_state and witness_timeout need witnesses",
                ));
            }
            None
        } else {
            let defaults = CosignOptions::default();
            Some(Cosign {
                endpoints: endpoints(&witnesses)?,
                state: self.witness_state(witness_state)?,
                options: CosignOptions {
                    quorum: quorum.unwrap_or(1),
                    timeout: witness_timeout_micros.map_or(
                        std::time::Duration::from_secs(10),
                        std::time::Duration::from_micros,
                    ),
                    ..defaults
                },
            })
        };
        self.with_log(py, |log| -> Result<CheckpointTuple> {
            // Bring the tree up first where the store can be written (as `trailseal
            // checkpoint`); otherwise the checkpoint covers what the tree holds and
            // `not_in_tree` says what it leaves out.
            if log.key_id().is_some() {
                let _ = log.sync_tree();
            }
            let (made, cosigning) = match &cosign {
                None => (log.checkpoint(&signer, &origin)?, None),
                Some(c) => {
                    let (made, result) = log.cosigned_checkpoint(
                        &signer,
                        &origin,
                        &c.endpoints,
                        &c.state,
                        &c.options,
                        &mut |_| std::ops::ControlFlow::Continue(()),
                    )?;
                    (made, Some(result))
                }
            };
            let (note, reports, count, failure) = match cosigning {
                None => {
                    let mut note = made.note.clone();
                    note = add_signatures(note, &extra)?;
                    (Some(note), Vec::new(), None, None)
                }
                Some(Ok(c)) => (Some(c.note), c.witnesses, Some(c.count), None),
                Some(Err(CosignError::QuorumNotMet {
                    count,
                    needed,
                    note,
                    witnesses,
                })) => {
                    let summary: Vec<String> = witnesses.iter().map(ToString::to_string).collect();
                    let message = format!(
                        "witness quorum {needed} not met: {count} cosigned ({})",
                        summary.join("; ")
                    );
                    (
                        (count > 0).then_some(note),
                        witnesses,
                        Some(count),
                        Some(message),
                    )
                }
                Some(Err(e @ CosignError::Refused(_))) => {
                    return Err(Raised::new(
                        Class::Fork,
                        format!("{e}; nothing was written"),
                    ));
                }
                Some(Err(e)) => {
                    return Err(Raised::new(
                        Class::Witness,
                        format!("{e}; nothing was written"),
                    ));
                }
            };
            let placed = match (&out, &note) {
                (Some(path), Some(note)) => Some(log.write_checkpoint_file(
                    path,
                    note,
                    &made.checkpoint,
                    &verifier,
                    cosign.is_some(),
                )?),
                _ => None,
            };
            if let Some(message) = failure {
                let what = match (&out, note.is_some()) {
                    (Some(path), true) => format!(
                        "the checkpoint with the cosignatures obtained was written to {}",
                        path.display()
                    ),
                    (None, true) => {
                        "give out to keep the checkpoint with the cosignatures obtained".into()
                    }
                    _ => "no witness cosigned: nothing was written".into(),
                };
                return Err(Raised::new(Class::Witness, format!("{message}; {what}")));
            }
            let (written, replaced) = match placed {
                None => (None, None),
                Some(CheckpointWrite::Created) => (Some("created"), None),
                Some(CheckpointWrite::Unchanged) => (Some("unchanged"), None),
                Some(CheckpointWrite::Rewritten) => (Some("rewritten"), None),
                Some(CheckpointWrite::Replaced { old_size }) => (Some("replaced"), Some(old_size)),
            };
            let c = &made.checkpoint;
            Ok((
                c.origin().to_owned(),
                c.size(),
                MerkleHash(*c.root()).to_base64(),
                made.head.base,
                note.unwrap_or_else(|| made.note.clone()),
                written,
                replaced,
                made.not_in_tree,
                reports.iter().map(ToString::to_string).collect(),
                count,
            ))
        })?
    }

    /// See `Log.prove` in `log.rs`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn make_proof(
        &self,
        py: Python<'_>,
        seq: u64,
        checkpoint: String,
        public_key: Option<PathBuf>,
        signing_key: Option<PathBuf>,
        out: Option<PathBuf>,
        with_trace: bool,
    ) -> Result<ProofTuple> {
        let verifier = match (public_key, signing_key) {
            (Some(p), None) => read_public_key(&p)?,
            (None, Some(s)) => read_signing_key(&s)?.verifier(),
            _ => {
                return Err(Raised::new(
                    Class::InvalidTrace,
                    "prove: give exactly one of public_key and signing_key",
                ));
            }
        };
        let proved =
            self.read_with(py, |log| log.prove(seq, &checkpoint, &verifier, with_trace))??;
        let text = proved.proof.to_text();
        let created = match &out {
            None => None,
            Some(path) => {
                let mode = if with_trace { PRIVATE } else { PUBLIC };
                let result = py.detach(|| write_once(path, mode, text.as_bytes()));
                Some(written(path, result)?)
            }
        };
        Ok((
            text,
            proved.seq,
            proved.index,
            proved.checkpoint.origin().to_owned(),
            proved.checkpoint.size(),
            proved.with_trace,
            created,
        ))
    }

    /// See `Log.consistency` in `log.rs`.
    pub(crate) fn make_consistency(
        &self,
        py: Python<'_>,
        old: u64,
        new: Option<u64>,
    ) -> Result<(u64, Vec<String>)> {
        let (new, proof) = self.read_with(py, |log| -> Result<_> {
            let new = match new {
                Some(n) => n,
                None => log.tree_head()?.size,
            };
            Ok((new, log.consistency(old, new)?))
        })??;
        Ok((new, proof.iter().map(MerkleHash::to_base64).collect()))
    }

    /// See `Log.tiles` in `log.rs`.
    pub(crate) fn make_tiles(
        &self,
        py: Python<'_>,
        signing_key: PathBuf,
        out_dir: PathBuf,
        origin: Option<String>,
        sync_tree: bool,
    ) -> Result<TilesTuple> {
        let signer = read_signing_key(&signing_key)?;
        let origin = origin_of(origin, self.shown())?;
        let write = |log: &mut trailseal::AuditLog| -> Result<_> {
            if sync_tree {
                log.sync_tree()?;
            }
            Ok(log.write_tiles(&out_dir, &signer, &origin)?)
        };
        // Without `sync_tree` nothing is written to the store: a read-only handle serves.
        let report = if sync_tree {
            self.with_log(py, write)??
        } else {
            self.read_with(py, write)??
        };
        Ok((
            report.origin,
            report.size,
            report.root.to_base64(),
            report.previous,
            report.hash_tiles,
            report.entry_bundles,
            report.kept,
            report.pruned_bundles,
            report.uncovered,
            report.checkpoint_written,
        ))
    }
}

/// Checks a proof file's bytes with the public key file alone (no secret, no store),
/// optionally a trace's bytes against its leaf and a witness quorum; returns the verdict as
/// `verify-proof --json` prints it.
#[pyfunction]
#[pyo3(signature = (proof, public_key, *, trace=None, witness_keys=Vec::new(), quorum=1))]
pub(crate) fn verify_proof(
    py: Python<'_>,
    proof: Vec<u8>,
    public_key: PathBuf,
    trace: Option<Vec<u8>>,
    witness_keys: Vec<String>,
    quorum: usize,
) -> PyResult<String> {
    let public = read_public_key(&public_key).map_err(Raised::from)?;
    let witnesses = self::witness_keys(&witness_keys)?;
    let verdict = py
        .detach(|| verify_proof_bytes(&proof, &public, trace.as_deref(), &witnesses, quorum))
        .map_err(|e| Raised::new(Class::InvalidTrace, format!("quorum: {e}")))?;
    Ok(trailseal_cli::json::proof_verdict(&verdict))
}

/// `note` with a signature by each of `keys` added (a signing-key transition's overlap).
pub(crate) fn add_signatures(
    mut note: String,
    keys: &[trailseal::core::note::NoteSigner],
) -> Result<String> {
    for key in keys {
        note = trailseal::core::note::add_signature(&note, key)
            .map_err(|e| Raised::new(Class::Anchor, format!("signing key {}: {e}", key.name())))?;
    }
    Ok(note)
}
