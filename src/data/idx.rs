//! The IDX format of MNIST-style files: a magic number (two zero bytes, a type code, the number of
//! dimensions), then each dimension as a big-endian u32, then the values. Only unsigned bytes
//! (type 0x08) occur in Fashion-MNIST.

use std::io::Read;

use thiserror::Error;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum IdxError {
    #[error("the file is shorter than an IDX header ({0} bytes)")]
    TooShort(usize),
    #[error("wrong magic number {0:#010x}: not an IDX file of unsigned bytes")]
    BadMagic(u32),
    #[error("expected {expected} dimension(s), the header says {found}")]
    WrongRank { expected: usize, found: usize },
    #[error("expected {expected_rows}x{expected_cols} images, the header says {rows}x{cols}")]
    WrongImageSize {
        expected_rows: usize,
        expected_cols: usize,
        rows: usize,
        cols: usize,
    },
    #[error("truncated: the header promises {expected} bytes of data, the file has {found}")]
    Truncated { expected: usize, found: usize },
    #[error("{extra} unexpected bytes after the data")]
    TrailingBytes { extra: usize },
    #[error("label {label} at index {index} is not a class between 0 and 9")]
    BadLabel { index: usize, label: u8 },
    #[error("not valid gzip data: {0}")]
    Gzip(String),
}

/// A parsed IDX array of bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdxArray {
    pub dims: Vec<usize>,
    pub data: Vec<u8>,
}

const UNSIGNED_BYTE: u8 = 0x08;

/// Parses IDX bytes (already decompressed).
pub fn parse(bytes: &[u8]) -> Result<IdxArray, IdxError> {
    if bytes.len() < 4 {
        return Err(IdxError::TooShort(bytes.len()));
    }
    let magic = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    if bytes[0] != 0 || bytes[1] != 0 || bytes[2] != UNSIGNED_BYTE || bytes[3] == 0 {
        return Err(IdxError::BadMagic(magic));
    }
    let rank = bytes[3] as usize;
    let header_len = 4 + 4 * rank;
    if bytes.len() < header_len {
        return Err(IdxError::TooShort(bytes.len()));
    }
    let dims: Vec<usize> = (0..rank)
        .map(|i| {
            let at = 4 + 4 * i;
            u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]) as usize
        })
        .collect();
    let expected = dims
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .unwrap_or(usize::MAX);
    let found = bytes.len() - header_len;
    if found < expected {
        return Err(IdxError::Truncated { expected, found });
    }
    if found > expected {
        return Err(IdxError::TrailingBytes {
            extra: found - expected,
        });
    }
    Ok(IdxArray {
        dims,
        data: bytes[header_len..].to_vec(),
    })
}

/// Parses an image file: `[count, rows, cols]`.
pub fn parse_images(bytes: &[u8], rows: usize, cols: usize) -> Result<IdxArray, IdxError> {
    let array = parse(bytes)?;
    if array.dims.len() != 3 {
        return Err(IdxError::WrongRank {
            expected: 3,
            found: array.dims.len(),
        });
    }
    if array.dims[1] != rows || array.dims[2] != cols {
        return Err(IdxError::WrongImageSize {
            expected_rows: rows,
            expected_cols: cols,
            rows: array.dims[1],
            cols: array.dims[2],
        });
    }
    Ok(array)
}

/// Parses a label file: `[count]`, every label a class 0..=9.
pub fn parse_labels(bytes: &[u8]) -> Result<IdxArray, IdxError> {
    let array = parse(bytes)?;
    if array.dims.len() != 1 {
        return Err(IdxError::WrongRank {
            expected: 1,
            found: array.dims.len(),
        });
    }
    if let Some((index, &label)) = array.data.iter().enumerate().find(|(_, l)| **l > 9) {
        return Err(IdxError::BadLabel { index, label });
    }
    Ok(array)
}

/// Returns the raw bytes, gunzipped when they start with the gzip magic.
pub fn maybe_gunzip(bytes: Vec<u8>) -> Result<Vec<u8>, IdxError> {
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::with_capacity(bytes.len() * 4);
        flate2::read::GzDecoder::new(bytes.as_slice())
            .read_to_end(&mut out)
            .map_err(|error| IdxError::Gzip(error.to_string()))?;
        Ok(out)
    } else {
        Ok(bytes)
    }
}

/// Encodes bytes as IDX (used by tests and fixtures).
pub fn encode(dims: &[usize], data: &[u8]) -> Vec<u8> {
    let mut out = vec![0, 0, UNSIGNED_BYTE, dims.len() as u8];
    for &d in dims {
        out.extend_from_slice(&(d as u32).to_be_bytes());
    }
    out.extend_from_slice(data);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_images_and_labels() {
        let images = encode(&[2, 2, 3], &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
        let parsed = parse_images(&images, 2, 3).expect("valid images");
        assert_eq!(parsed.dims, vec![2, 2, 3]);
        assert_eq!(parsed.data[11], 12);
        let labels = encode(&[3], &[0, 9, 4]);
        assert_eq!(parse_labels(&labels).expect("valid").data, vec![0, 9, 4]);
    }

    #[test]
    fn rejects_each_corruption() {
        assert_eq!(parse(&[0, 0]), Err(IdxError::TooShort(2)));
        assert_eq!(
            parse(&[0, 0, 0x0d, 1, 0, 0, 0, 0]),
            Err(IdxError::BadMagic(0x0000_0d01))
        );
        let mut truncated = encode(&[4], &[1, 2, 3, 4]);
        truncated.pop();
        assert_eq!(
            parse_labels(&truncated),
            Err(IdxError::Truncated {
                expected: 4,
                found: 3
            })
        );
        assert_eq!(
            parse_labels(&encode(&[2], &[3, 10])),
            Err(IdxError::BadLabel {
                index: 1,
                label: 10
            })
        );
        assert_eq!(
            parse_images(&encode(&[1, 2, 2], &[0; 4]), 28, 28),
            Err(IdxError::WrongImageSize {
                expected_rows: 28,
                expected_cols: 28,
                rows: 2,
                cols: 2
            })
        );
        assert_eq!(
            parse_labels(&encode(&[1, 1], &[0])),
            Err(IdxError::WrongRank {
                expected: 1,
                found: 2
            })
        );
    }

    #[test]
    fn gunzips_only_gzip_data() {
        use std::io::Write;
        let raw = encode(&[1], &[7]);
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(&raw).expect("in-memory write");
        let gz = encoder.finish().expect("in-memory gzip");
        assert_eq!(maybe_gunzip(gz).expect("valid gzip"), raw);
        assert_eq!(maybe_gunzip(raw.clone()).expect("plain"), raw);
        assert!(matches!(
            maybe_gunzip(vec![0x1f, 0x8b, 1, 2, 3]),
            Err(IdxError::Gzip(_))
        ));
    }
}
