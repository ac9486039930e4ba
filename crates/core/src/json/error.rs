//! Why a JSON text was rejected.

use super::parse::PYTHON_INT_MAX_DIGITS;
use crate::number::PYTHON_FLOAT_MAX_DIGITS;

/// Why a JSON text was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JsonErrorKind {
    #[error("expecting value")]
    ExpectingValue,
    #[error("expecting property name enclosed in double quotes")]
    ExpectingPropertyName,
    #[error("expecting ':' delimiter")]
    ExpectingColon,
    #[error("expecting ',' delimiter")]
    ExpectingComma,
    #[error("extra data after the value")]
    ExtraData,
    #[error("unterminated string")]
    UnterminatedString,
    #[error("invalid control character in string")]
    InvalidControlCharacter,
    #[error("invalid \\escape")]
    InvalidEscape,
    #[error("invalid \\uXXXX escape")]
    InvalidUnicodeEscape,
    #[error("lone surrogate in string (not representable in UTF-8)")]
    LoneSurrogate,
    #[error("invalid UTF-8")]
    InvalidUtf8,
    #[error("NaN and Infinity are not valid in the canonical form")]
    NonFinite,
    #[error("integer has more than {PYTHON_INT_MAX_DIGITS} digits")]
    IntegerTooLong,
    #[error("float has more than {PYTHON_FLOAT_MAX_DIGITS} digits")]
    FloatTooLong,
    #[error("nesting deeper than {limit} levels")]
    TooDeep {
        /// The configured limit.
        limit: usize,
    },
    #[error("unexpected UTF-8 byte order mark")]
    UnexpectedBom,
    #[error("document larger than 4 GiB")]
    TooLarge,
}

/// A JSON text that could not be read, with the byte offset where reading stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("byte {offset}: {kind}")]
pub struct JsonError {
    /// Byte offset into the input.
    pub offset: usize,
    /// What was wrong.
    pub kind: JsonErrorKind,
}
