//! Hashing one file: read it once, digest the bytes, decode the same bytes, hash the pixels.
//!
//! This is the unit of work of `schoon hash` and `schoon bench`'s end-to-end stage (and later the
//! scanner's). Files up to the decode limit are read into memory in one go: the digests and the
//! decoder then share that one buffer. Larger files are streamed through the digests only, so a
//! 50 GB video costs constant memory and still gets its MD5/SHA-1/SHA-256.

use digest::{Digests, MultiHasher};
use media::{Format, Limits};
use pdq::{Dihedral, Pdq, Pixels};
use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

/// What to compute.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Decode limits; files over `max_bytes` are digested but not decoded.
    pub limits: Limits,
    /// Also compute the eight dihedral hashes.
    pub dihedral: bool,
}

/// The perceptual side of a file.
#[derive(Debug, Clone)]
pub enum Perceptual {
    /// Decoded and hashed.
    Hashed {
        /// The container format.
        format: Format,
        /// Decoded width.
        width: usize,
        /// Decoded height.
        height: usize,
        /// PDQ hash and quality.
        pdq: Pdq,
        /// The eight dihedral hashes, when asked for.
        dihedral: Option<Box<Dihedral>>,
    },
    /// The bytes are not an image format Schoon knows (no error: videos, text, archives...).
    NotImage,
    /// An image that could not be decoded (malformed, truncated, too large, unsupported).
    Failed(media::Error),
}

/// Everything Schoon computes for one file.
#[derive(Debug, Clone)]
pub struct FileHashes {
    /// Bytes read.
    pub size: u64,
    /// MD5, SHA-1, SHA-256 of the bytes.
    pub digests: Digests,
    /// PDQ, or why not.
    pub perceptual: Perceptual,
}

/// Per-thread working memory.
#[derive(Debug, Default)]
pub struct Worker {
    pdq: pdq::Hasher,
}

impl Worker {
    /// Hashes bytes already in memory.
    pub fn hash_bytes(&mut self, bytes: &[u8], opts: &Options) -> FileHashes {
        let digests = digest::digest(bytes);
        let perceptual = self.perceptual(bytes, opts);
        FileHashes {
            size: bytes.len() as u64,
            digests,
            perceptual,
        }
    }

    /// Decodes and PDQ-hashes bytes (no digests).
    pub fn perceptual(&mut self, bytes: &[u8], opts: &Options) -> Perceptual {
        if media::sniff(bytes).is_none() {
            return Perceptual::NotImage;
        }
        match media::decode_rgb(bytes, &opts.limits) {
            Ok(img) => {
                let px = Pixels::rgb(&img.data, img.width, img.height)
                    .expect("the decoder returns packed RGB of its stated size");
                let (pdq, dihedral) = if opts.dihedral {
                    let d = self.pdq.hash_dihedral(&px);
                    (
                        Pdq {
                            hash: d.original(),
                            quality: d.quality,
                        },
                        Some(Box::new(d)),
                    )
                } else {
                    (self.pdq.hash(&px), None)
                };
                // A one-off giant image should not pin its buffers for the rest of the run.
                if self.pdq.memory_bytes() > 512 << 20 {
                    self.pdq.shrink();
                }
                Perceptual::Hashed {
                    format: img.format,
                    width: img.width,
                    height: img.height,
                    pdq,
                    dihedral,
                }
            }
            Err(e) => Perceptual::Failed(e),
        }
    }

    /// Reads and hashes a file. An `Err` means the file could not be read at all.
    pub fn hash_path(&mut self, path: &Path, opts: &Options) -> io::Result<FileHashes> {
        let mut file = File::open(path)?;
        let len = file.metadata()?.len();
        if len <= opts.limits.max_bytes {
            let mut bytes = Vec::with_capacity(len as usize + 1);
            file.read_to_end(&mut bytes)?;
            return Ok(self.hash_bytes(&bytes, opts));
        }
        // Too big to decode: stream the digests, and tell an image from other data by its head.
        let mut hasher = MultiHasher::new();
        let mut buf = vec![0u8; 256 * 1024];
        let mut head: Option<Option<Format>> = None;
        loop {
            let n = match file.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if head.is_none() {
                head = Some(media::sniff(&buf[..n]));
            }
            hasher.update(&buf[..n]);
        }
        let size = hasher.len();
        let perceptual = match head.flatten() {
            None => Perceptual::NotImage,
            Some(_) => Perceptual::Failed(media::Error::InputTooLarge {
                found: size,
                max: opts.limits.max_bytes,
            }),
        };
        Ok(FileHashes {
            size,
            digests: hasher.finish(),
            perceptual,
        })
    }
}
