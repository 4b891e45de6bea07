use std::path::{Path, PathBuf};

use recur_caption::read_features;
use recur_data::Split;

pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("caption-data-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Writes a C-order `.npy` matrix with the given dtype descriptor and raw
/// values.
pub fn npy(path: &Path, descr: &str, rows: usize, cols: usize, bytes: &[u8]) {
    npy_in_order(path, descr, false, rows, cols, bytes);
}

/// Writes a `.npy` matrix with the given dtype descriptor, order and raw
/// values.
pub fn npy_in_order(
    path: &Path,
    descr: &str,
    fortran: bool,
    rows: usize,
    cols: usize,
    bytes: &[u8],
) {
    let order = if fortran { "True" } else { "False" };
    let mut header =
        format!("{{'descr': '{descr}', 'fortran_order': {order}, 'shape': ({rows}, {cols}), }}");
    while !(10 + header.len() + 1).is_multiple_of(64) {
        header.push(' ');
    }
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend((header.len() as u16).to_le_bytes());
    out.extend(header.as_bytes());
    out.extend(bytes);
    std::fs::write(path, out).unwrap();
}

pub fn floats(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

pub const TOKENS: &str = "a.jpg#0\ta dog runs\na.jpg#1\ta brown dog\nb.jpg#0\ta cat sleeps\n";

#[test]
fn reads_features_captions_and_split() {
    let dir = scratch("ok");
    let (features, tokens, split) = (dir.join("f.npy"), dir.join("t.token"), dir.join("s.json"));
    npy(&features, "<f4", 2, 3, &floats(&[1., 2., 3., 4., 5., 6.]));
    std::fs::write(&tokens, TOKENS).unwrap();
    let data = read_features(&features, &tokens, None).unwrap();
    assert_eq!(data.input_size, 3);
    assert_eq!(data.inputs, [1., 2., 3., 4., 5., 6.]);
    assert_eq!(data.images[0].name, "a.jpg");
    assert_eq!(data.images[0].captions, ["a dog runs", "a brown dog"]);
    assert_eq!(data.images[1].captions, ["a cat sleeps"]);

    std::fs::write(
        &split,
        r#"{"images": [
            {"filename": "b.jpg", "split": "test", "sentences": []},
            {"filename": "a.jpg", "split": "train", "sentences": []}]}"#,
    )
    .unwrap();
    let data = read_features(&features, &tokens, Some(&split)).unwrap();
    assert_eq!(data.split(Split::Train), [0]);
    assert_eq!(data.split(Split::Test), [1]);
    std::fs::remove_dir_all(&dir).ok();
}

/// NumPy's default float64, in Fortran order, reads as the same row-major
/// float32 features.
#[test]
fn reads_float64_fortran_features() {
    let dir = scratch("f8");
    let (features, tokens) = (dir.join("f.npy"), dir.join("t.token"));
    std::fs::write(&tokens, TOKENS).unwrap();
    // [[1, 2, 3], [4, 5, 6]] column by column.
    let columns: Vec<u8> = [1.0f64, 4., 2., 5., 3., 6.]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    npy_in_order(&features, "<f8", true, 2, 3, &columns);
    let data = read_features(&features, &tokens, None).unwrap();
    assert_eq!(data.input_size, 3);
    assert_eq!(data.inputs, [1., 2., 3., 4., 5., 6.]);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn bad_features_are_clear_errors() {
    let dir = scratch("bad");
    let (features, tokens, split) = (dir.join("f.npy"), dir.join("t.token"), dir.join("s.json"));
    std::fs::write(&tokens, TOKENS).unwrap();

    // One row for two images.
    npy(&features, "<f4", 1, 3, &floats(&[1., 2., 3.]));
    let error = read_features(&features, &tokens, None)
        .unwrap_err()
        .to_string();
    assert_eq!(
        error,
        format!(
            "{}: 1 feature rows, but {} has captions for 2 images (one row per image, in caption-file order)",
            features.display(),
            tokens.display()
        )
    );

    // Integers instead of floats.
    npy(&features, "<i4", 2, 1, &[0u8; 8]);
    let error = read_features(&features, &tokens, None)
        .unwrap_err()
        .to_string();
    assert_eq!(
        error,
        format!(
            "{}: byte 10: dtype '<i4' is not float16, float32 or float64 ('<f2', '<f4', '<f8' or big-endian '>f…')",
            features.display()
        )
    );

    // A NaN names its row and the row's image.
    npy(
        &features,
        "<f4",
        2,
        3,
        &floats(&[1., 2., 3., 4., f32::NAN, 6.]),
    );
    let error = read_features(&features, &tokens, None)
        .unwrap_err()
        .to_string();
    assert_eq!(
        error,
        format!(
            "{}: row 1 (image `b.jpg`), column 1 (from 0) is NaN, not a finite float32",
            features.display()
        )
    );

    // A split naming an image without captions, and one lacking an image.
    npy(&features, "<f4", 2, 1, &floats(&[1., 2.]));
    std::fs::write(
        &split,
        r#"{"images": [{"filename": "c.jpg", "split": "test", "sentences": []}]}"#,
    )
    .unwrap();
    let error = read_features(&features, &tokens, Some(&split))
        .unwrap_err()
        .to_string();
    assert_eq!(
        error,
        format!(
            "{}: image `c.jpg` has no captions in {}",
            split.display(),
            tokens.display()
        )
    );
    std::fs::write(
        &split,
        r#"{"images": [{"filename": "a.jpg", "split": "test", "sentences": []}]}"#,
    )
    .unwrap();
    let error = read_features(&features, &tokens, Some(&split))
        .unwrap_err()
        .to_string();
    assert_eq!(
        error,
        format!(
            "{}: no split for image `b.jpg` ({}:3)",
            split.display(),
            tokens.display()
        )
    );

    // A malformed caption line names its line.
    std::fs::write(&tokens, "a.jpg#0\tfine\nno tab here\n").unwrap();
    let error = read_features(&features, &tokens, None)
        .unwrap_err()
        .to_string();
    assert!(
        error.starts_with(&format!("{}:2:", tokens.display())),
        "{error}"
    );
    std::fs::remove_dir_all(&dir).ok();
}
