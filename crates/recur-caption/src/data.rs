//! A captioning data set in memory, and the reader for the chapter's format:
//! `features.npy` + `image_captions.token` (+ the Karpathy split JSON).

use std::collections::HashMap;
use std::path::Path;

use burn::tensor::{Device, Tensor, TensorData};
use recur_data::{DataError, Split, read_flickr_captions, read_karpathy_split, read_npy};

use crate::CaptionError;

/// An RGB picture, for showing test images beside their captions.
#[derive(Debug, Clone, PartialEq)]
pub struct Picture {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// Interleaved RGB bytes, row-major `[height, width, 3]`.
    pub rgb: Vec<u8>,
}

/// One image of a [`CaptionData`].
#[derive(Debug, Clone, PartialEq)]
pub struct CaptionedImage {
    /// The image's file name.
    pub name: String,
    /// Which part of the data set it belongs to.
    pub split: Split,
    /// Its reference captions, as written.
    pub captions: Vec<String>,
    /// The picture, when the data set has it (the generated shapes do; a
    /// features file does not).
    pub picture: Option<Picture>,
}

/// A captioning data set: one model input row per image, and its captions.
#[derive(Debug, Clone, PartialEq)]
pub struct CaptionData {
    /// The images, in the order of the rows of `inputs`.
    pub images: Vec<CaptionedImage>,
    /// What the image encoder reads, row-major `[images, input_size]`:
    /// pixels (row-major, RGB interleaved) or precomputed features.
    pub inputs: Vec<f32>,
    /// Values per image in `inputs`.
    pub input_size: usize,
    /// Side of the square pictures when `inputs` holds pixels, `None` when
    /// it holds features (a CNN needs pixels).
    pub image_size: Option<usize>,
}

impl CaptionData {
    /// Indices of the images in `split`.
    pub fn split(&self, split: Split) -> Vec<usize> {
        (0..self.images.len())
            .filter(|&i| self.images[i].split == split)
            .collect()
    }

    /// The inputs of the images at `indices`, `[indices.len(), input_size]`.
    pub fn inputs_tensor(&self, indices: &[usize], device: &Device) -> Tensor<2> {
        let mut rows = Vec::with_capacity(indices.len() * self.input_size);
        for &i in indices {
            rows.extend_from_slice(&self.inputs[i * self.input_size..(i + 1) * self.input_size]);
        }
        Tensor::from_data(
            TensorData::new(rows, [indices.len(), self.input_size]),
            device,
        )
    }
}

/// Reads precomputed image features in the chapter's format.
///
/// - `features`: a 2-D float `.npy` matrix (float16, float32 or float64, C or
///   Fortran order; see [`read_npy`]), one row per image, the rows in the
///   order in which the images first appear in `captions`.
/// - `captions`: Flickr's `image_captions.token`, `name.jpg#k<TAB>caption`.
/// - `split`: a Karpathy split JSON naming the split of every image; without
///   it, of every ten images in caption-file order the ninth goes to
///   validation, the tenth to test and the others to training.
///
/// Errors: anything [`read_npy`] and the caption readers reject (a NaN or
/// infinite feature names its row and that row's image), a row count
/// that differs from the number of images, and a split file that lacks an
/// image of the caption file or names one it does not have.
pub fn read_features(
    features: &Path,
    captions: &Path,
    split: Option<&Path>,
) -> Result<CaptionData, CaptionError> {
    let lines = read_flickr_captions(captions)?;
    let mut images: Vec<CaptionedImage> = Vec::new();
    let mut first_line = Vec::new();
    let mut position = HashMap::new();
    for (line, caption) in lines.into_iter().enumerate() {
        let index = *position.entry(caption.image.clone()).or_insert_with(|| {
            images.push(CaptionedImage {
                name: caption.image.clone(),
                split: Split::Train,
                captions: Vec::new(),
                picture: None,
            });
            first_line.push(line + 1);
            images.len() - 1
        });
        images[index].captions.push(caption.caption);
    }
    let matrix = read_npy(features).map_err(|error| match error {
        DataError::NonFinite {
            path,
            row,
            column,
            value,
        } if row < images.len() => CaptionError::NonFiniteFeature {
            features: path,
            row,
            image: images[row].name.clone(),
            column,
            value,
        },
        error => error.into(),
    })?;
    if matrix.rows != images.len() {
        return Err(CaptionError::FeatureCount {
            features: features.to_path_buf(),
            rows: matrix.rows,
            captions: captions.to_path_buf(),
            images: images.len(),
        });
    }
    match split {
        Some(path) => {
            let file = read_karpathy_split(path)?;
            let mut seen = vec![false; images.len()];
            for entry in file.images {
                let Some(&index) = position.get(&entry.filename) else {
                    return Err(CaptionError::MissingImage {
                        path: path.to_path_buf(),
                        image: entry.filename,
                        other: captions.to_path_buf(),
                    });
                };
                images[index].split = entry.split;
                seen[index] = true;
            }
            if let Some(index) = seen.iter().position(|&s| !s) {
                return Err(CaptionError::NoSplit {
                    path: path.to_path_buf(),
                    image: images[index].name.clone(),
                    captions: captions.to_path_buf(),
                    line: first_line[index],
                });
            }
        }
        None => {
            for (index, image) in images.iter_mut().enumerate() {
                image.split = match index % 10 {
                    8 => Split::Val,
                    9 => Split::Test,
                    _ => Split::Train,
                };
            }
        }
    }
    Ok(CaptionData {
        images,
        inputs: matrix.data,
        input_size: matrix.cols,
        image_size: None,
    })
}
