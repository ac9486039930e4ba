//! C2SP tlog-tiles entry bundles (`tile/entries/<N>[.p/<W>]`): the entries of up to 256
//! consecutive leaves, each as a big-endian uint16 length then that many bytes.

/// The largest entry a bundle can hold.
pub const MAX_ENTRY_SIZE: usize = 65_535;

/// An entry bundle that cannot be written or read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EntryBundleError {
    /// An entry longer than [`MAX_ENTRY_SIZE`].
    #[error("entry bundle: entry of {len} bytes, at most 65535 fit")]
    TooLong {
        /// Its length.
        len: usize,
    },
    /// The data ends inside an entry or its length.
    #[error("entry bundle: entry {entry}: truncated")]
    Truncated {
        /// The entry's position in the bundle.
        entry: usize,
    },
    /// More data than the tile's width of entries.
    #[error("entry bundle: bytes after entry {width}")]
    TrailingData {
        /// The tile's width.
        width: u16,
    },
}

/// Appends one entry to a bundle being written.
pub fn push_bundle_entry(bundle: &mut Vec<u8>, entry: &[u8]) -> Result<(), EntryBundleError> {
    let len =
        u16::try_from(entry.len()).map_err(|_| EntryBundleError::TooLong { len: entry.len() })?;
    bundle.reserve(2 + entry.len());
    bundle.extend_from_slice(&len.to_be_bytes());
    bundle.extend_from_slice(entry);
    Ok(())
}

/// The `width` entries of a bundle; anything else (fewer entries, a truncated one, bytes
/// after the last) is an error.
pub fn parse_entry_bundle(data: &[u8], width: u16) -> Result<Vec<&[u8]>, EntryBundleError> {
    let mut entries = Vec::with_capacity(usize::from(width));
    let mut rest = data;
    for entry in 0..usize::from(width) {
        let truncated = EntryBundleError::Truncated { entry };
        let (len, after) = rest.split_first_chunk::<2>().ok_or(truncated.clone())?;
        let (this, after) = after
            .split_at_checked(usize::from(u16::from_be_bytes(*len)))
            .ok_or(truncated)?;
        entries.push(this);
        rest = after;
    }
    if !rest.is_empty() {
        return Err(EntryBundleError::TrailingData { width });
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_strictness() {
        let mut bundle = Vec::new();
        for entry in [&b""[..], b"a", &[7u8; 300], &[1u8; MAX_ENTRY_SIZE]] {
            push_bundle_entry(&mut bundle, entry).unwrap();
        }
        assert_eq!(&bundle[..5], &[0, 0, 0, 1, b'a']);
        let entries = parse_entry_bundle(&bundle, 4).unwrap();
        assert_eq!(entries[2], &[7u8; 300][..]);
        assert_eq!(entries[3].len(), MAX_ENTRY_SIZE);
        assert_eq!(
            push_bundle_entry(&mut Vec::new(), &[0; MAX_ENTRY_SIZE + 1]),
            Err(EntryBundleError::TooLong {
                len: MAX_ENTRY_SIZE + 1
            })
        );
        assert_eq!(
            parse_entry_bundle(&bundle, 3),
            Err(EntryBundleError::TrailingData { width: 3 })
        );
        assert_eq!(
            parse_entry_bundle(&bundle, 5),
            Err(EntryBundleError::Truncated { entry: 4 })
        );
        assert_eq!(
            parse_entry_bundle(&bundle[..bundle.len() - 1], 4),
            Err(EntryBundleError::Truncated { entry: 3 })
        );
        assert_eq!(
            parse_entry_bundle(&[0], 1),
            Err(EntryBundleError::Truncated { entry: 0 })
        );
        assert_eq!(parse_entry_bundle(&[], 0), Ok(vec![]));
    }
}
