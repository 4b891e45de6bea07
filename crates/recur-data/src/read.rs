//! Readers for the systems' data files: plain text, tab-separated parallel
//! text, Flickr captions and the Karpathy split JSON (`.npy` matrices are in
//! `npy.rs`).

use std::path::Path;

use serde::Deserialize;

use crate::DataError;

pub(crate) fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> DataError {
    let path = path.to_path_buf();
    move |source| DataError::Io { path, source }
}

/// Writes `bytes` to `path` through a temporary file in the same folder and
/// a rename, so that `path` holds either its old content or all of the new,
/// never part of it (a crash or a full disk mid-write loses nothing). Every
/// Recur crate that writes a file it may overwrite writes it with this.
///
/// The temporary file (`.<name>.tmp-<process id>`, so that two processes
/// never share one) is removed if the rename fails.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temporary = path.with_file_name(format!(".{name}.tmp-{}", std::process::id()));
    std::fs::write(&temporary, bytes)?;
    std::fs::rename(&temporary, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&temporary);
    })
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
