//! Pretrained vision for Recur's image captioning: EfficientNet-Lite0 (an
//! ImageNet classifier) in burn, loading the PyTorch weights that
//! `cargo xtask data fetch efficientnet-lite0` downloads, and the image
//! loading and preprocessing those weights expect.
//!
//! ```no_run
//! use burn::tensor::Device;
//! use recur_vision::{EfficientNetLite0, load_images};
//!
//! # fn main() -> Result<(), recur_vision::VisionError> {
//! #[allow(deprecated)]
//! let device = Device::ndarray();
//! let net = EfficientNetLite0::load("datasets/cache/efficientnet-lite0/efficientnet-lite0.pth", &device)?;
//! let images = load_images(&["cat.jpg", "cup.png"], &device)?; // [2, 3, 224, 224]
//! let features = net.features(images);
//! assert_eq!(features.pooled.dims(), [2, 1280]); // one vector per image
//! assert_eq!(features.grid.dims(), [2, 1280, 7, 7]); // for attention
//! let classes = net.classify(features.pooled).argmax(1); // ImageNet classes, [2, 1]
//! # Ok(())
//! # }
//! ```

mod efficientnet;
mod preprocess;

use std::path::PathBuf;

pub use efficientnet::{EfficientNetLite0, EfficientNetLite0Config, Features, MbConvBlock};
pub use preprocess::{IMAGE_SIZE, image_tensor, load_image, load_images};

/// What can go wrong reading images or weights.
#[derive(Debug, thiserror::Error)]
pub enum VisionError {
    /// An image file could not be read or decoded.
    #[error("{path}: {source}")]
    Image {
        /// The image file.
        path: PathBuf,
        /// Why.
        source: image::ImageError,
    },
    /// An empty list of images was given.
    #[error("no images given")]
    NoImages,
    /// A weights file could not be read or does not fit the network.
    #[error("{path}: {message}")]
    Weights {
        /// The weights file.
        path: PathBuf,
        /// Why.
        message: String,
    },
}
