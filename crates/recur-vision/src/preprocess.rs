//! Reading photos and turning them into the network's input.

use std::path::Path;

use burn::tensor::{Device, Tensor, TensorData};
use image::imageops::{self, FilterType};
use image::{Rgb, RgbImage};

use crate::VisionError;

/// The side of the square the network sees, in pixels.
pub const IMAGE_SIZE: usize = 224;

/// EfficientNet-Lite's input normalisation, `(x - 127) / 128` for channel
/// values `x` in `0..=255` (the TensorFlow Lite models' mean and scale, not
/// ImageNet's per-channel statistics: Lite was trained this way).
const MEAN: f32 = 127.0;
const SCALE: f32 = 128.0;

/// Reads a PNG or JPEG file as 8-bit RGB. Grey becomes RGB, and
/// transparent pixels are laid on white (as a drawing on a page: Tux Paint's
/// stamps are transparent PNGs, and their hidden colour is often black).
pub fn load_image(path: impl AsRef<Path>) -> Result<RgbImage, VisionError> {
    let path = path.as_ref();
    let image = image::open(path).map_err(|source| VisionError::Image {
        path: path.to_path_buf(),
        source,
    })?;
    if !image.color().has_alpha() {
        return Ok(image.to_rgb8());
    }
    let rgba = image.to_rgba8();
    Ok(RgbImage::from_fn(rgba.width(), rgba.height(), |x, y| {
        let [r, g, b, a] = rgba.get_pixel(x, y).0;
        let over_white = |c: u8| {
            let (c, a) = (u32::from(c), u32::from(a));
            ((c * a + 255 * (255 - a) + 127) / 255) as u8
        };
        Rgb([over_white(r), over_white(g), over_white(b)])
    }))
}

/// An image as the network's input, `[3, 224, 224]`: resized (bilinear,
/// antialiased) so its shorter side is 224, the centre 224x224 cut out, and
/// every value normalised to `(x - 127) / 128`.
///
/// Resizing the shorter side to exactly 224 (rather than 256 and cropping
/// 87.5%, as ImageNet evaluation does) keeps as much of the scene as
/// possible, which is what captions describe; a 224x224 image passes
/// through unchanged.
pub fn image_tensor(image: &RgbImage, device: &Device) -> Tensor<3> {
    let (width, height) = image.dimensions();
    let size = IMAGE_SIZE as u32;
    let square = if (width, height) == (size, size) {
        image.clone()
    } else {
        // Round the longer side so it is never below 224.
        let scale = size as f32 / width.min(height) as f32;
        let new_width = ((width as f32 * scale).round() as u32).max(size);
        let new_height = ((height as f32 * scale).round() as u32).max(size);
        let resized = imageops::resize(image, new_width, new_height, FilterType::Triangle);
        imageops::crop_imm(
            &resized,
            (new_width - size) / 2,
            (new_height - size) / 2,
            size,
            size,
        )
        .to_image()
    };
    // Interleaved RGB rows -> channel planes.
    let plane = IMAGE_SIZE * IMAGE_SIZE;
    let mut values = vec![0.0f32; 3 * plane];
    for (i, pixel) in square.pixels().enumerate() {
        for (channel, &value) in pixel.0.iter().enumerate() {
            values[channel * plane + i] = (f32::from(value) - MEAN) / SCALE;
        }
    }
    Tensor::from_data(TensorData::new(values, [3, IMAGE_SIZE, IMAGE_SIZE]), device)
}

/// Reads and preprocesses image files into one batch, `[n, 3, 224, 224]`,
/// in the order given. An unreadable file is an error naming it, and so is
/// an empty list.
pub fn load_images(paths: &[impl AsRef<Path>], device: &Device) -> Result<Tensor<4>, VisionError> {
    if paths.is_empty() {
        return Err(VisionError::NoImages);
    }
    let images = paths
        .iter()
        .map(|path| Ok(image_tensor(&load_image(path)?, device)))
        .collect::<Result<Vec<_>, VisionError>>()?;
    Ok(Tensor::stack(images, 0))
}
