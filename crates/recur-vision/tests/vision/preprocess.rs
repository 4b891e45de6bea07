//! Image loading and preprocessing.

use burn::tensor::Device;
use image::{Rgb, RgbImage};
use recur_train::Backend;
use recur_vision::{IMAGE_SIZE, VisionError, image_tensor, load_images};

#[test]
fn wide_image_is_resized_and_centre_cropped() {
    // 448x300 -> shorter side 224 (335x224) -> the middle 224 columns. The
    // left and right thirds are black, the middle third white.
    let image = RgbImage::from_fn(448, 300, |x, _| {
        if (150..298).contains(&x) {
            Rgb([255, 255, 255])
        } else {
            Rgb([0, 0, 0])
        }
    });
    for backend in Backend::for_tests() {
        let tensor = image_tensor(&image, &backend.device());
        assert_eq!(tensor.dims(), [3, IMAGE_SIZE, IMAGE_SIZE], "{backend}");
        let values = tensor.into_data().try_to_vec::<f32>().unwrap();
        let at = |c: usize, y: usize, x: usize| values[(c * IMAGE_SIZE + y) * IMAGE_SIZE + x];
        // Normalised (x - 127) / 128: black -> -0.992, white -> 1.0.
        assert!((at(0, 100, 0) + 127.0 / 128.0).abs() < 1e-6, "{backend}");
        assert!((at(2, 100, 112) - 1.0).abs() < 1e-6, "{backend}");
        assert!((at(1, 100, 223) + 127.0 / 128.0).abs() < 1e-6, "{backend}");
    }
}

#[test]
fn unreadable_image_is_an_error_naming_it() {
    let path = std::env::temp_dir().join("recur-vision-not-an-image.png");
    std::fs::write(&path, b"not a png").unwrap();
    #[allow(deprecated)]
    let device = Device::ndarray();
    let error = load_images(&[&path], &device).unwrap_err();
    assert!(matches!(error, VisionError::Image { .. }));
    assert!(error.to_string().contains("recur-vision-not-an-image.png"));
    let none: [&str; 0] = [];
    assert!(matches!(
        load_images(&none, &device),
        Err(VisionError::NoImages)
    ));
}
