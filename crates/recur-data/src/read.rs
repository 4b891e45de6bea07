//! Readers for the systems' data files: plain text, tab-separated parallel
//! text, Flickr captions, the Karpathy split JSON and `.npy` feature matrices.

use std::path::{Path, PathBuf};

use burn::tensor::{Device, Tensor, TensorData};
use serde::Deserialize;

use crate::DataError;

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> DataError {
    let path = path.to_path_buf();
    move |source| DataError::Io { path, source }
}

/// Writes `bytes` to `path` through a temporary file in the same folder, so
/// an existing file is never left half-written.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), DataError> {
    let mut temporary = PathBuf::from(path);
    temporary.as_mut_os_string().push(".tmp");
    std::fs::write(&temporary, bytes).map_err(io_error(path))?;
    std::fs::rename(&temporary, path).map_err(io_error(path))
}

/// Reads a UTF-8 text file. Invalid UTF-8 is an error giving the line and
/// byte offset of the first bad byte (nothing is silently replaced).
pub fn read_text(path: impl AsRef<Path>) -> Result<String, DataError> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(io_error(path))?;
    String::from_utf8(bytes).map_err(|error| {
        let offset = error.utf8_error().valid_up_to();
        let bytes = error.as_bytes();
        let line = 1 + bytes[..offset].iter().filter(|&&b| b == b'\n').count();
        DataError::Utf8 {
            path: path.to_path_buf(),
            line,
            offset,
        }
    })
}

/// Reads tab-separated parallel text, one `source<TAB>target` pair per line
/// (a translation corpus). Any line without exactly two columns, an empty
/// one included, is an error naming it.
pub fn read_parallel(path: impl AsRef<Path>) -> Result<Vec<(String, String)>, DataError> {
    let path = path.as_ref();
    let text = read_text(path)?;
    text.lines()
        .enumerate()
        .map(|(i, line)| {
            let columns: Vec<&str> = line.split('\t').collect();
            match columns[..] {
                [source, target] => Ok((source.to_string(), target.to_string())),
                _ => Err(DataError::Columns {
                    path: path.to_path_buf(),
                    line: i + 1,
                    expected: 2,
                    found: columns.len(),
                }),
            }
        })
        .collect()
}

/// One line of Flickr's `image_captions.token`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlickrCaption {
    /// The image file name, e.g. `1000268201_693b08cb0e.jpg`.
    pub image: String,
    /// Which of the image's captions this is (0 to 4 in Flickr8k/30k).
    pub index: u32,
    /// The caption as written.
    pub caption: String,
}

/// Reads Flickr's `image_captions.token`: one `name.jpg#k<TAB>caption` per
/// line. A line without a tab, or whose first column is not `name#k` with an
/// integer `k`, is an error naming it.
pub fn read_flickr_captions(path: impl AsRef<Path>) -> Result<Vec<FlickrCaption>, DataError> {
    let path = path.as_ref();
    let text = read_text(path)?;
    let error = |line: usize, message: String| DataError::Caption {
        path: path.to_path_buf(),
        line,
        message,
    };
    text.lines()
        .enumerate()
        .map(|(i, line)| {
            let (key, caption) = line
                .split_once('\t')
                .ok_or_else(|| error(i + 1, "expected `name.jpg#k<TAB>caption`".into()))?;
            let (image, index) = key
                .rsplit_once('#')
                .ok_or_else(|| error(i + 1, format!("`{key}` is not `name.jpg#k`")))?;
            let index = index.parse().map_err(|_| {
                error(
                    i + 1,
                    format!("`{index}` in `{key}` is not a caption number"),
                )
            })?;
            Ok(FlickrCaption {
                image: image.to_string(),
                index,
                caption: caption.to_string(),
            })
        })
        .collect()
}

/// The Karpathy split file (`dataset_flickr8k.json` and its siblings).
/// Unknown fields are ignored.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct KarpathySplit {
    /// Every image with its split and captions.
    pub images: Vec<KarpathyImage>,
}

/// One image of a [`KarpathySplit`].
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct KarpathyImage {
    /// The image file name.
    pub filename: String,
    /// Which part of the data set the image belongs to.
    pub split: Split,
    /// Its captions.
    pub sentences: Vec<KarpathySentence>,
}

/// One caption of a [`KarpathyImage`].
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct KarpathySentence {
    /// The caption as written.
    pub raw: String,
    /// The caption already tokenised (lowercase, no punctuation).
    pub tokens: Vec<String>,
}

/// A part of the Karpathy split.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Split {
    /// Training images.
    Train,
    /// Validation images.
    Val,
    /// Test images.
    Test,
    /// COCO's extra validation images, usually added to training.
    Restval,
}

/// Reads a Karpathy split JSON file. A syntax error, a missing field or an
/// unknown split is an error giving the line and column.
pub fn read_karpathy_split(path: impl AsRef<Path>) -> Result<KarpathySplit, DataError> {
    let path = path.as_ref();
    let text = read_text(path)?;
    serde_json::from_str(&text).map_err(|source| DataError::Json {
        path: path.to_path_buf(),
        source,
    })
}

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

/// Reads a 2-D float32 `.npy` file (format version 1, 2 or 3), as written by
/// `numpy.save(path, array.astype(numpy.float32))`.
///
/// The header must say `'descr': '<f4'`, `'fortran_order': False` and a
/// two-number `'shape'`; anything else, and data shorter or longer than the
/// shape, is an error giving the byte offset.
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
    if descr != "'<f4'" {
        return Err(at_header(format!(
            "dtype {descr} is not little-endian float32 ('<f4')"
        )));
    }
    match header_value(header, "fortran_order") {
        Some("False") => {}
        Some("True") => return Err(at_header("Fortran-order arrays are not supported".into())),
        _ => {
            return Err(at_header(
                "header has no 'fortran_order' False or True".into(),
            ));
        }
    }
    let shape = header_value(header, "shape")
        .and_then(parse_shape)
        .ok_or_else(|| at_header("header has no 'shape' tuple".into()))?;
    let [rows, cols] = shape[..] else {
        return Err(at_header(format!(
            "shape {} is not 2-D",
            header_value(header, "shape").unwrap_or_default()
        )));
    };
    let expected = rows
        .checked_mul(cols)
        .and_then(|n| n.checked_mul(4))
        .ok_or_else(|| at_header(format!("shape ({rows}, {cols}) is too large")))?;
    let data = &bytes[data_start..];
    if data.len() != expected {
        let what = if data.len() < expected {
            "truncated"
        } else {
            "too long"
        };
        return Err(error(
            data_start,
            format!(
                "data is {what}: shape ({rows}, {cols}) needs {expected} bytes, found {}",
                data.len()
            ),
        ));
    }
    let data = data
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    Ok(NpyMatrix { rows, cols, data })
}

/// The text of the value of `'key'` in a header dict literal: a quoted
/// string, a parenthesised tuple, or a bare word.
fn header_value<'a>(header: &'a str, key: &str) -> Option<&'a str> {
    let quoted = format!("'{key}'");
    let rest = &header[header.find(&quoted)? + quoted.len()..];
    let rest = rest.trim_start().strip_prefix(':')?.trim_start();
    let end = match rest.chars().next()? {
        '\'' => rest[1..].find('\'')? + 2,
        '(' => rest.find(')')? + 1,
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
