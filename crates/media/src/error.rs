//! The one error type of the crate.

use crate::Format;

/// Why bytes could not be turned into pixels.
///
/// Every failure of [`probe`](crate::probe) and [`decode_rgb`](crate::decode_rgb) is one of these;
/// the decoders never panic or abort the process on bad input (see the crate docs for the one
/// exception, a process built with `panic = "abort"`). Messages are lower case and name the fault,
/// so they can be shown to a user or logged as they are.
///
/// Use the `is_*` predicates to branch on the kind of failure: they stay stable when variants are
/// added.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The input has no bytes at all.
    #[error("empty input: there are no bytes to decode")]
    Empty,

    /// The first bytes match none of the supported signatures.
    #[error(
        "unknown format: the leading bytes {found} match no supported image signature (jpeg, png, gif, webp, bmp or tiff)"
    )]
    UnknownFormat {
        /// The first (up to 12) bytes of the input, as lowercase hex.
        found: String,
    },

    /// The input is longer than [`Limits::max_bytes`](crate::Limits::max_bytes).
    #[error("input too large: {found} bytes, the limit is {max} bytes")]
    InputTooLarge {
        /// Length of the input in bytes.
        found: u64,
        /// The limit in force.
        max: u64,
    },

    /// The header declares a width, height or pixel count over the [`Limits`](crate::Limits).
    /// Checked before any pixel memory is allocated, so decompression bombs stop here.
    #[error(
        "image too large: the {format} header declares {width}×{height} pixels, the limit is {max_width}×{max_height} and {max_pixels} pixels in all"
    )]
    ImageTooLarge {
        /// The format that was sniffed.
        format: Format,
        /// Width declared by the header.
        width: u64,
        /// Height declared by the header.
        height: u64,
        /// [`Limits::max_width`](crate::Limits::max_width) in force.
        max_width: u32,
        /// [`Limits::max_height`](crate::Limits::max_height) in force.
        max_height: u32,
        /// [`Limits::max_pixels`](crate::Limits::max_pixels) in force.
        max_pixels: u64,
    },

    /// The decoder needed more resources than allowed: more memory than the limits imply (for
    /// example a TIFF whose strips declare far more data than its size needs), an allocation
    /// that failed, or more progressive JPEG scans than [`JPEG_MAX_SCANS`](crate::JPEG_MAX_SCANS).
    #[error("resource limit hit while decoding {format}: {detail}")]
    ResourceLimit {
        /// The format being decoded.
        format: Format,
        /// What the decoder was doing.
        detail: String,
    },

    /// The data stops before the image does.
    #[error("truncated {format}: the data ends before the image does ({detail})")]
    Truncated {
        /// The format being decoded.
        format: Format,
        /// The decoder's own words.
        detail: String,
    },

    /// The data breaks the format's rules (bad header, bad checksum, corrupt compressed data,
    /// zero width, ...), or a third-party decoder panicked on it.
    #[error("malformed {format}: {detail}")]
    Malformed {
        /// The format being decoded.
        format: Format,
        /// The decoder's own words.
        detail: String,
    },

    /// The file is valid but uses a feature this crate does not decode (12-bit JPEG, float TIFF,
    /// a TIFF colour model the decoder lacks, ...).
    #[error("unsupported {format}: {detail}")]
    Unsupported {
        /// The format being decoded.
        format: Format,
        /// The feature that is missing.
        detail: String,
    },
}

impl Error {
    /// The format the input was sniffed as, when it got that far.
    pub fn format(&self) -> Option<Format> {
        match self {
            Error::Empty | Error::UnknownFormat { .. } | Error::InputTooLarge { .. } => None,
            Error::ImageTooLarge { format, .. }
            | Error::ResourceLimit { format, .. }
            | Error::Truncated { format, .. }
            | Error::Malformed { format, .. }
            | Error::Unsupported { format, .. } => Some(*format),
        }
    }

    /// The input is not something this crate decodes: an unknown format or an unsupported
    /// feature of a known one. Not the uploader's fault in the usual sense; worth a distinct
    /// status (e.g. HTTP 415).
    pub fn is_unsupported(&self) -> bool {
        matches!(
            self,
            Error::UnknownFormat { .. } | Error::Unsupported { .. }
        )
    }

    /// A limit stopped the decode: too many bytes, too many pixels or too much memory
    /// (e.g. HTTP 413).
    pub fn is_too_large(&self) -> bool {
        matches!(
            self,
            Error::InputTooLarge { .. } | Error::ImageTooLarge { .. } | Error::ResourceLimit { .. }
        )
    }

    /// The input is broken: empty, truncated or malformed (e.g. HTTP 422).
    pub fn is_malformed(&self) -> bool {
        matches!(
            self,
            Error::Empty | Error::Truncated { .. } | Error::Malformed { .. }
        )
    }

    /// The data ends early (a partial upload or download).
    pub fn is_truncated(&self) -> bool {
        matches!(self, Error::Truncated { .. })
    }
}
