//! NumPy `.npy` matrices: [`read_npy`] reads a 2-D float16, float32 or
//! float64 array in either byte order and C or Fortran order, as row-major
//! float32; [`write_npy`] writes little-endian float32 in C order.

use std::path::Path;

use burn::tensor::{Device, Tensor, TensorData};

use crate::DataError;
use crate::read::{io_error, write_atomically};

/// A float32 matrix read from a `.npy` file (e.g. CNN features, one row per
/// image).
#[derive(Debug, Clone, PartialEq)]
pub struct NpyMatrix {
    /// Number of rows.
    pub rows: usize,
    /// Number of columns.
    pub cols: usize,
    /// The values, row-major `[rows, cols]`.
    pub data: Vec<f32>,
}

impl NpyMatrix {
    /// Row `row`, `[cols]`, if there is one.
    pub fn row(&self, row: usize) -> Option<&[f32]> {
        (row < self.rows).then(|| &self.data[row * self.cols..(row + 1) * self.cols])
    }

    /// The matrix as a `[rows, cols]` tensor on `device`.
    pub fn tensor(&self, device: &Device) -> Tensor<2> {
        Tensor::from_data(
            TensorData::new(self.data.clone(), [self.rows, self.cols]),
            device,
        )
    }
}

const NPY_MAGIC: &[u8] = b"\x93NUMPY";

/// A float dtype of a `.npy` header: `'<f2'`, `'<f4'`, `'<f8'` or the same
/// big-endian (`'>…'`).
#[derive(Debug, Clone, Copy)]
struct Float {
    /// Bytes per value: 2, 4 or 8.
    size: usize,
    big_endian: bool,
}

impl Float {
    /// The dtype of a quoted `descr` value, if it is a float one.
    fn parse(descr: &str) -> Option<Self> {
        let code = descr.strip_prefix('\'')?.strip_suffix('\'')?;
        let big_endian = match code.get(..1)? {
            "<" => false,
            ">" => true,
            _ => return None,
        };
        let size = match code.get(1..)? {
            "f2" => 2,
            "f4" => 4,
            "f8" => 8,
            _ => return None,
        };
        Some(Self { size, big_endian })
    }

    /// The value stored in `bytes` (`size` of them), exactly.
    fn value(self, bytes: &[u8]) -> f64 {
        let mut raw = [0u8; 8];
        raw[..self.size].copy_from_slice(bytes);
        if self.big_endian {
            raw[..self.size].reverse();
        }
        match self.size {
            2 => f64::from(f16_to_f32(u16::from_le_bytes([raw[0], raw[1]]))),
            4 => f64::from(f32::from_le_bytes([raw[0], raw[1], raw[2], raw[3]])),
            _ => f64::from_le_bytes(raw),
        }
    }
}

/// An IEEE 754 half-precision value (its bits) as f32, exactly: every
/// float16, subnormals, infinities and NaN included, is a float32.
fn f16_to_f32(bits: u16) -> f32 {
    let negative = bits & 0x8000 != 0;
    let exponent = u32::from((bits >> 10) & 0x1f);
    let mantissa = u32::from(bits & 0x3ff);
    let magnitude = match exponent {
        // Zero or subnormal: mantissa x 2^-24 (exact in f32).
        0 => mantissa as f32 * f32::from_bits((127 - 24) << 23),
        // Infinity or NaN.
        0x1f => f32::from_bits(0x7f80_0000 | (mantissa << 13)),
        // Normal: rebias the exponent from 15 to 127.
        _ => f32::from_bits(((exponent + 127 - 15) << 23) | (mantissa << 13)),
    };
    if negative { -magnitude } else { magnitude }
}

/// Reads a 2-D `.npy` file (format version 1, 2 or 3), as written by
/// `numpy.save(path, array)` for a float array: float16, float32 or float64
/// (`'<f2'`, `'<f4'`, `'<f8'`, or big-endian `'>f…'`), in C or Fortran
/// order. The values are converted to float32 and laid out row-major.
///
/// Any other dtype, a shape that is not `(rows, columns)`, data shorter or
/// longer than the shape, and a malformed header are errors giving the byte
/// offset; a NaN, an infinity or a value beyond float32's range is an error
/// giving its row and column.
pub fn read_npy(path: impl AsRef<Path>) -> Result<NpyMatrix, DataError> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(io_error(path))?;
    let error = |offset: usize, message: String| DataError::Npy {
        path: path.to_path_buf(),
        offset,
        message,
    };
    if bytes.len() < 10 || !bytes.starts_with(NPY_MAGIC) {
        return Err(error(0, "not a .npy file (no \\x93NUMPY magic)".into()));
    }
    let (header_start, header_len) = match bytes[6] {
        1 => (10, usize::from(u16::from_le_bytes([bytes[8], bytes[9]]))),
        2 | 3 if bytes.len() >= 12 => (
            12,
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
        ),
        2 | 3 => return Err(error(8, "header length is truncated".into())),
        version => {
            return Err(error(6, format!("unsupported .npy version {version}")));
        }
    };
    let data_start = header_start + header_len;
    let header = bytes.get(header_start..data_start).ok_or_else(|| {
        error(
            header_start,
            format!("header of {header_len} bytes is truncated"),
        )
    })?;
    let header = std::str::from_utf8(header)
        .map_err(|_| error(header_start, "header is not text".into()))?;
    let at_header = |message: String| error(header_start, message);

    let descr =
        header_value(header, "descr").ok_or_else(|| at_header("header has no 'descr'".into()))?;
    let float = Float::parse(descr).ok_or_else(|| {
        at_header(format!(
            "dtype {descr} is not float16, float32 or float64 ('<f2', '<f4', '<f8' or big-endian '>f…')"
        ))
    })?;
    let fortran = match header_value(header, "fortran_order") {
        Some("False") => false,
        Some("True") => true,
        _ => {
            return Err(at_header(
                "header has no 'fortran_order' False or True".into(),
            ));
        }
    };
    let shape_text = header_value(header, "shape").unwrap_or_default();
    let shape =
        parse_shape(shape_text).ok_or_else(|| at_header("header has no 'shape' tuple".into()))?;
    let [rows, cols] = shape[..] else {
        return Err(at_header(format!(
            "shape {shape_text} is not 2-D (rows, columns)"
        )));
    };
    let expected = rows
        .checked_mul(cols)
        .and_then(|n| n.checked_mul(float.size))
        .ok_or_else(|| at_header(format!("shape ({rows}, {cols}) is too large")))?;
    let raw = &bytes[data_start..];
    if raw.len() != expected {
        let what = if raw.len() < expected {
            "truncated"
        } else {
            "too long"
        };
        return Err(error(
            data_start,
            format!(
                "data is {what}: shape ({rows}, {cols}) needs {expected} bytes, found {}",
                raw.len()
            ),
        ));
    }

    let mut data = Vec::with_capacity(rows * cols);
    for row in 0..rows {
        for column in 0..cols {
            let index = if fortran {
                column * rows + row
            } else {
                row * cols + column
            };
            let value = float.value(&raw[index * float.size..(index + 1) * float.size]);
            let single = value as f32;
            if !single.is_finite() {
                return Err(DataError::NonFinite {
                    path: path.to_path_buf(),
                    row,
                    column,
                    value,
                });
            }
            data.push(single);
        }
    }
    Ok(NpyMatrix { rows, cols, data })
}

/// Writes `matrix` as a `.npy` file (format 1.0, little-endian float32, C
/// order: NumPy loads it as a `float32` array of shape `(rows, cols)`),
/// through a temporary file renamed into place.
///
/// Errors: `data` not holding `rows x cols` values, or the file cannot be
/// written.
pub fn write_npy(path: impl AsRef<Path>, matrix: &NpyMatrix) -> Result<(), DataError> {
    let NpyMatrix { rows, cols, data } = matrix;
    if rows.checked_mul(*cols) != Some(data.len()) {
        return Err(DataError::Argument(format!(
            "a {rows} x {cols} matrix needs {} values, got {}",
            rows.saturating_mul(*cols),
            data.len()
        )));
    }
    let mut header =
        format!("{{'descr': '<f4', 'fortran_order': False, 'shape': ({rows}, {cols}), }}");
    // Magic (6) + version (2) + length (2) + header + '\n': a multiple of 64.
    while !(10 + header.len() + 1).is_multiple_of(64) {
        header.push(' ');
    }
    header.push('\n');
    let mut bytes = Vec::with_capacity(10 + header.len() + data.len() * 4);
    bytes.extend_from_slice(NPY_MAGIC);
    bytes.extend_from_slice(&[1, 0]);
    // Even two 20-digit dimensions leave the header under 128 bytes.
    bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    for value in data {
        bytes.extend_from_slice(&value.to_le_bytes());
    }
    write_atomically(path.as_ref(), &bytes).map_err(io_error(path.as_ref()))
}

/// The text of the value of `'key'` in a header dict literal: a quoted
/// string, a parenthesised tuple, a bracketed list, or a bare word.
fn header_value<'a>(header: &'a str, key: &str) -> Option<&'a str> {
    let quoted = format!("'{key}'");
    let rest = &header[header.find(&quoted)? + quoted.len()..];
    let rest = rest.trim_start().strip_prefix(':')?.trim_start();
    let end = match rest.chars().next()? {
        '\'' => rest[1..].find('\'')? + 2,
        '(' => rest.find(')')? + 1,
        '[' => rest.find(']')? + 1,
        _ => rest.find([',', '}']).unwrap_or(rest.len()),
    };
    Some(rest[..end].trim())
}

/// `(3, 4)` → `[3, 4]`; `(5,)` → `[5]`.
fn parse_shape(tuple: &str) -> Option<Vec<usize>> {
    let inner = tuple.strip_prefix('(')?.strip_suffix(')')?;
    inner
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().ok())
        .collect()
}
