//! `.npy` matrices: every float dtype, both byte orders and both layouts
//! load as the same row-major float32; other dtypes and shapes, malformed
//! files and non-finite values are one-line errors; the writer round-trips.

use recur_data::{NpyMatrix, read_npy, write_npy};
use recur_train::Backend;

use crate::common::{message, scratch, shown, write};

/// A `.npy` file's bytes: magic, version, header padded to 64 bytes, data.
pub fn npy(version: u8, header: &str, data: &[u8]) -> Vec<u8> {
    let prefix = if version == 1 { 10 } else { 12 };
    let mut header = header.to_string();
    while !(prefix + header.len() + 1).is_multiple_of(64) {
        header.push(' ');
    }
    header.push('\n');
    let mut bytes = b"\x93NUMPY".to_vec();
    bytes.extend([version, 0]);
    if version == 1 {
        bytes.extend((header.len() as u16).to_le_bytes());
    } else {
        bytes.extend((header.len() as u32).to_le_bytes());
    }
    bytes.extend(header.as_bytes());
    bytes.extend(data);
    bytes
}

/// The header NumPy writes for `descr`, `fortran_order` and `shape`.
pub fn header(descr: &str, fortran: bool, shape: &str) -> String {
    let order = if fortran { "True" } else { "False" };
    format!("{{'descr': '{descr}', 'fortran_order': {order}, 'shape': {shape}, }}")
}

pub fn f32s(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

pub fn f64s(values: &[f64]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// `[rows, cols]` row-major values in column-major (Fortran) order.
fn fortran<T: Copy>(values: &[T], rows: usize, cols: usize) -> Vec<T> {
    (0..cols)
        .flat_map(|c| (0..rows).map(move |r| values[r * cols + c]))
        .collect()
}

const GOOD: &str = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";

/// A `[2, 3]` matrix whose values every float dtype holds exactly.
const VALUES: [f32; 6] = [1.0, -2.5, 3.0, 0.0, 0.5, 7.0];

#[test]
fn float32_c_order() {
    let dir = scratch("npy");
    let values = [1.0, -2.5, 3.0, 0.0, 1e-3, 7.0];
    for version in [1, 2, 3] {
        let path = write(
            &dir,
            &format!("v{version}.npy"),
            npy(version, GOOD, &f32s(&values)),
        );
        let matrix = read_npy(&path).unwrap();
        assert_eq!((matrix.rows, matrix.cols), (2, 3));
        assert_eq!(matrix.data, values);
        assert_eq!(matrix.row(1).unwrap(), [0.0, 1e-3, 7.0]);
        assert!(matrix.row(2).is_none());
        for backend in Backend::for_tests() {
            let tensor = matrix.tensor(&backend.device());
            assert_eq!(tensor.dims(), [2, 3]);
            assert_eq!(
                tensor.into_data().try_to_vec::<f32>().unwrap(),
                values,
                "{backend}"
            );
        }
    }
    // Key order and spacing as another writer might produce them.
    let header = "{'shape':(1,2),'fortran_order':False,'descr':'<f4'}";
    let path = write(&dir, "compact.npy", npy(1, header, &f32s(&[4.0, 5.0])));
    assert_eq!(read_npy(&path).unwrap().data, [4.0, 5.0]);
}

/// float64 (NumPy's default), float32 and float16, in C and Fortran order
/// and both byte orders, all load as the same row-major float32 matrix.
#[test]
fn every_float_dtype_and_layout() {
    let dir = scratch("npy-dtypes");
    let expected = NpyMatrix {
        rows: 2,
        cols: 3,
        data: VALUES.to_vec(),
    };
    let wide: Vec<f64> = VALUES.iter().map(|&v| f64::from(v)).collect();
    // 1.0, -2.5, 3.0, 0.0, 0.5, 7.0 as IEEE half-precision bits.
    let half: [u16; 6] = [0x3c00, 0xc100, 0x4200, 0x0000, 0x3800, 0x4700];
    let halfs = |bits: &[u16]| -> Vec<u8> { bits.iter().flat_map(|b| b.to_le_bytes()).collect() };
    let cases: Vec<(&str, &str, bool, Vec<u8>)> = vec![
        ("f4-c", "<f4", false, f32s(&VALUES)),
        ("f4-fortran", "<f4", true, f32s(&fortran(&VALUES, 2, 3))),
        ("f8-c", "<f8", false, f64s(&wide)),
        ("f8-fortran", "<f8", true, f64s(&fortran(&wide, 2, 3))),
        ("f2-c", "<f2", false, halfs(&half)),
        ("f2-fortran", "<f2", true, halfs(&fortran(&half, 2, 3))),
        (
            "f8-big",
            ">f8",
            false,
            wide.iter().flat_map(|v| v.to_be_bytes()).collect(),
        ),
        (
            "f4-big-fortran",
            ">f4",
            true,
            fortran(&VALUES, 2, 3)
                .iter()
                .flat_map(|v| v.to_be_bytes())
                .collect(),
        ),
        (
            "f2-big",
            ">f2",
            false,
            half.iter().flat_map(|b| b.to_be_bytes()).collect(),
        ),
    ];
    for (name, descr, is_fortran, data) in cases {
        let path = write(
            &dir,
            &format!("{name}.npy"),
            npy(1, &header(descr, is_fortran, "(2, 3)"), &data),
        );
        assert_eq!(read_npy(&path).unwrap(), expected, "{name}");
    }

    // A float64 value that float32 cannot hold exactly is rounded to the
    // nearest float32.
    let path = write(
        &dir,
        "round.npy",
        npy(1, &header("<f8", false, "(1, 2)"), &f64s(&[0.1, 1e-40])),
    );
    assert_eq!(read_npy(&path).unwrap().data, [0.1f32, 1e-40f32]);

    // A single row or column is the same in either order.
    let path = write(
        &dir,
        "column.npy",
        npy(1, &header("<f8", true, "(3, 1)"), &f64s(&[1.0, 2.0, 3.0])),
    );
    let matrix = read_npy(&path).unwrap();
    assert_eq!(
        (matrix.rows, matrix.cols, matrix.data),
        (3, 1, vec![1.0, 2.0, 3.0])
    );
    let path = write(
        &dir,
        "empty.npy",
        npy(1, &header("<f8", true, "(0, 5)"), &[]),
    );
    assert_eq!(read_npy(&path).unwrap().data, [] as [f32; 0]);
    std::fs::remove_dir_all(&dir).ok();
}

/// Every finite float16 bit pattern loads as the value the IEEE formula
/// gives: normals, subnormals and both zeros.
#[test]
fn every_finite_float16_is_exact() {
    let dir = scratch("npy-f16");
    let bits: Vec<u16> = (0..=u16::MAX)
        .filter(|b| (b >> 10) & 0x1f != 0x1f)
        .collect();
    let data: Vec<u8> = bits.iter().flat_map(|b| b.to_le_bytes()).collect();
    let shape = format!("({}, 1)", bits.len());
    let path = write(
        &dir,
        "all.npy",
        npy(1, &header("<f2", false, &shape), &data),
    );
    let matrix = read_npy(&path).unwrap();
    assert_eq!(matrix.data.len(), bits.len());
    for (&b, &value) in bits.iter().zip(&matrix.data) {
        let sign = if b & 0x8000 != 0 { -1.0 } else { 1.0 };
        let exponent = i32::from((b >> 10) & 0x1f);
        let mantissa = f64::from(b & 0x3ff);
        let expected = if exponent == 0 {
            sign * mantissa * 2f64.powi(-24)
        } else {
            sign * (1.0 + mantissa / 1024.0) * 2f64.powi(exponent - 15)
        };
        assert_eq!(f64::from(value), expected, "{b:#06x}");
        assert_eq!(value.is_sign_negative(), sign < 0.0, "{b:#06x}");
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn bad_npy_files() {
    let dir = scratch("npy-bad");
    let check = |name: &str, bytes: Vec<u8>, expected: &str| {
        let path = write(&dir, name, bytes);
        assert_eq!(
            message(read_npy(&path)),
            format!("{}: {expected}", shown(&path))
        );
    };
    check(
        "magic.npy",
        b"PK\x03\x04 not numpy at all".to_vec(),
        "byte 0: not a .npy file (no \\x93NUMPY magic)",
    );
    let mut future = npy(1, GOOD, &[0; 24]);
    future[6] = 9;
    check("version.npy", future, "byte 6: unsupported .npy version 9");
    let not_float = "is not float16, float32 or float64 ('<f2', '<f4', '<f8' or big-endian '>f…')";
    check(
        "i4.npy",
        npy(1, &GOOD.replace("<f4", "<i4"), &[0; 24]),
        &format!("byte 10: dtype '<i4' {not_float}"),
    );
    check(
        "f16-bytes.npy",
        npy(1, &GOOD.replace("<f4", "<f16"), &[0; 96]),
        &format!("byte 10: dtype '<f16' {not_float}"),
    );
    check(
        "complex.npy",
        npy(2, &GOOD.replace("<f4", "<c8"), &[0; 48]),
        &format!("byte 12: dtype '<c8' {not_float}"),
    );
    check(
        "record.npy",
        npy(
            1,
            &GOOD.replace("'<f4'", "[('x', '<f4'), ('y', '<f4')]"),
            &[0; 48],
        ),
        &format!("byte 10: dtype [('x', '<f4'), ('y', '<f4')] {not_float}"),
    );
    check(
        "cube.npy",
        npy(1, &GOOD.replace("(2, 3)", "(2, 3, 4)"), &[0; 96]),
        "byte 10: shape (2, 3, 4) is not 2-D (rows, columns)",
    );
    check(
        "vector.npy",
        npy(1, &GOOD.replace("(2, 3)", "(6,)"), &[0; 24]),
        "byte 10: shape (6,) is not 2-D (rows, columns)",
    );
    check(
        "scalar.npy",
        npy(1, &GOOD.replace("(2, 3)", "()"), &[0; 4]),
        "byte 10: shape () is not 2-D (rows, columns)",
    );
    check(
        "noshape.npy",
        npy(1, "{'descr': '<f4', 'fortran_order': False}", &[]),
        "byte 10: header has no 'shape' tuple",
    );
    check(
        "noorder.npy",
        npy(1, "{'descr': '<f4', 'shape': (2, 3)}", &[0; 24]),
        "byte 10: header has no 'fortran_order' False or True",
    );
    check(
        "huge.npy",
        npy(1, &GOOD.replace("(2, 3)", "(18446744073709551615, 2)"), &[]),
        "byte 10: shape (18446744073709551615, 2) is too large",
    );
    check(
        "short.npy",
        npy(1, GOOD, &[0; 20]),
        "byte 128: data is truncated: shape (2, 3) needs 24 bytes, found 20",
    );
    check(
        "long.npy",
        npy(1, GOOD, &[0; 28]),
        "byte 128: data is too long: shape (2, 3) needs 24 bytes, found 28",
    );
    check(
        "short-f8.npy",
        npy(1, &header("<f8", true, "(2, 3)"), &[0; 24]),
        "byte 128: data is truncated: shape (2, 3) needs 48 bytes, found 24",
    );
    let mut cut = npy(1, GOOD, &[]);
    cut.truncate(30);
    check(
        "header.npy",
        cut,
        "byte 10: header of 118 bytes is truncated",
    );
    std::fs::remove_dir_all(&dir).ok();
}

/// A NaN, an infinity or a float64 beyond float32's range is refused,
/// naming the row and column (the first in row-major order), whatever the
/// dtype and layout.
#[test]
fn non_finite_values_name_their_row() {
    let dir = scratch("npy-nan");
    let check = |name: &str, bytes: Vec<u8>, expected: &str| {
        let path = write(&dir, name, bytes);
        assert_eq!(
            message(read_npy(&path)),
            format!("{}: {expected}", shown(&path))
        );
    };
    let mut values = [0.5f32; 12]; // [4, 3]
    values[2 * 3 + 1] = f32::NAN;
    check(
        "nan.npy",
        npy(1, &header("<f4", false, "(4, 3)"), &f32s(&values)),
        "row 2, column 1 (from 0) is NaN, not a finite float32",
    );
    // The same matrix in Fortran order, float64, with an infinity in a
    // later row (stored earlier in the file): the NaN's row is named.
    let mut wide: Vec<f64> = values.iter().map(|&v| f64::from(v)).collect();
    wide[3 * 3] = f64::INFINITY;
    check(
        "nan-fortran.npy",
        npy(
            1,
            &header("<f8", true, "(4, 3)"),
            &f64s(&fortran(&wide, 4, 3)),
        ),
        "row 2, column 1 (from 0) is NaN, not a finite float32",
    );
    wide[2 * 3 + 1] = 0.5;
    check(
        "inf-fortran.npy",
        npy(
            1,
            &header("<f8", true, "(4, 3)"),
            &f64s(&fortran(&wide, 4, 3)),
        ),
        "row 3, column 0 (from 0) is inf, not a finite float32",
    );
    check(
        "overflow.npy",
        npy(
            1,
            &header("<f8", false, "(2, 2)"),
            &f64s(&[1.0, 2.0, 3.0, -1e300]),
        ),
        "row 1, column 1 (from 0) is -1e300, not a finite float32",
    );
    // -inf in float16 (0xfc00).
    check(
        "f16.npy",
        npy(
            1,
            &header("<f2", false, "(1, 2)"),
            &[0x00, 0x3c, 0x00, 0xfc],
        ),
        "row 0, column 1 (from 0) is -inf, not a finite float32",
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn written_matrices_read_back() {
    let dir = scratch("npy-write");
    let matrix = NpyMatrix {
        rows: 3,
        cols: 2,
        data: vec![1.0, -0.0, f32::MIN_POSITIVE, 1e-45, f32::MAX, -7.25],
    };
    let path = dir.join("m.npy");
    write_npy(&path, &matrix).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(bytes.len(), 128 + 24, "header padded to 64 bytes");
    assert_eq!(bytes[127], b'\n');
    let back = read_npy(&path).unwrap();
    assert_eq!(back, matrix);
    assert!(back.data[1].is_sign_negative());
    assert!(!dir.join("m.npy.tmp").exists());

    let empty = NpyMatrix {
        rows: 0,
        cols: 1280,
        data: vec![],
    };
    write_npy(&path, &empty).unwrap();
    assert_eq!(read_npy(&path).unwrap(), empty);

    let wrong = NpyMatrix {
        rows: 2,
        cols: 2,
        data: vec![1.0; 3],
    };
    assert_eq!(
        message(write_npy(&path, &wrong)),
        "a 2 x 2 matrix needs 4 values, got 3"
    );
    std::fs::remove_dir_all(&dir).ok();
}
