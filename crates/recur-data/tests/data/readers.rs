//! Every reader on good files and on each kind of bad file, checking the
//! exact one-line message.

use std::path::Path;

use recur_data::{
    FlickrCaption, Split, read_flickr_captions, read_karpathy_split, read_npy, read_parallel,
    read_text,
};
use recur_train::Backend;

use crate::common::{message, scratch, write};

fn shown(path: &Path) -> String {
    path.display().to_string()
}

#[test]
fn text_reads_and_rejects_invalid_utf8() {
    let dir = scratch("text");
    let path = write(&dir, "good.txt", "héllo\nworld\n");
    assert_eq!(read_text(&path).unwrap(), "héllo\nworld\n");

    let path = write(&dir, "bad.txt", b"ok\nfine\nbr\xffoken\n");
    assert_eq!(
        message(read_text(&path)),
        format!("{}:3: invalid UTF-8 at byte 10", shown(&path))
    );
    let missing = dir.join("missing.txt");
    assert!(message(read_text(&missing)).starts_with(&format!("{}: ", shown(&missing))));
}

#[test]
fn parallel_text() {
    let dir = scratch("parallel");
    let path = write(&dir, "good.tsv", "Go.\tVa !\r\nHi.\tSalut !\n");
    assert_eq!(
        read_parallel(&path).unwrap(),
        [
            ("Go.".to_string(), "Va !".to_string()),
            ("Hi.".to_string(), "Salut !".to_string())
        ]
    );

    let path = write(&dir, "three.tsv", "a\tb\nc\td\te\n");
    assert_eq!(
        message(read_parallel(&path)),
        format!(
            "{}:2: expected 2 tab-separated columns, found 3",
            shown(&path)
        )
    );
    let path = write(&dir, "one.tsv", "a\tb\n\nc\td\n");
    assert_eq!(
        message(read_parallel(&path)),
        format!(
            "{}:2: expected 2 tab-separated columns, found 1",
            shown(&path)
        )
    );
    let path = write(&dir, "utf8.tsv", b"a\tb\n\xc3\tb\n");
    assert_eq!(
        message(read_parallel(&path)),
        format!("{}:2: invalid UTF-8 at byte 4", shown(&path))
    );
}

#[test]
fn flickr_captions() {
    let dir = scratch("flickr");
    let path = write(
        &dir,
        "image_captions.token",
        "1000_a.jpg#0\tA child in pink .\n1000_a.jpg#1\tA girl going up .\n",
    );
    assert_eq!(
        read_flickr_captions(&path).unwrap(),
        [
            FlickrCaption {
                image: "1000_a.jpg".into(),
                index: 0,
                caption: "A child in pink .".into()
            },
            FlickrCaption {
                image: "1000_a.jpg".into(),
                index: 1,
                caption: "A girl going up .".into()
            },
        ]
    );

    let path = write(
        &dir,
        "notab.token",
        "1000_a.jpg#0\tok\n1000_a.jpg#1 no tab\n",
    );
    assert_eq!(
        message(read_flickr_captions(&path)),
        format!("{}:2: expected `name.jpg#k<TAB>caption`", shown(&path))
    );
    let path = write(&dir, "nohash.token", "1000_a.jpg\tA dog .\n");
    assert_eq!(
        message(read_flickr_captions(&path)),
        format!("{}:1: `1000_a.jpg` is not `name.jpg#k`", shown(&path))
    );
    let path = write(&dir, "number.token", "a.jpg#0\tx\na.jpg#one\ty\n");
    assert_eq!(
        message(read_flickr_captions(&path)),
        format!(
            "{}:2: `one` in `a.jpg#one` is not a caption number",
            shown(&path)
        )
    );
}

#[test]
fn karpathy_split() {
    let dir = scratch("karpathy");
    let path = write(
        &dir,
        "dataset.json",
        r#"{"dataset": "flickr8k", "images": [
            {"filename": "a.jpg", "split": "train", "imgid": 0, "sentences": [
                {"raw": "A dog.", "tokens": ["a", "dog"], "sentid": 0}]},
            {"filename": "b.jpg", "split": "restval", "sentences": []},
            {"filename": "c.jpg", "split": "val", "sentences": []},
            {"filename": "d.jpg", "split": "test", "sentences": []}]}"#,
    );
    let split = read_karpathy_split(&path).unwrap();
    assert_eq!(split.images.len(), 4);
    assert_eq!(split.images[0].filename, "a.jpg");
    assert_eq!(split.images[0].split, Split::Train);
    assert_eq!(split.images[0].sentences[0].raw, "A dog.");
    assert_eq!(split.images[0].sentences[0].tokens, ["a", "dog"]);
    let splits: Vec<Split> = split.images.iter().map(|i| i.split).collect();
    assert_eq!(
        splits,
        [Split::Train, Split::Restval, Split::Val, Split::Test]
    );

    let path = write(
        &dir,
        "split.json",
        "{\"images\": [\n{\"filename\": \"a.jpg\", \"split\": \"dev\", \"sentences\": []}]}",
    );
    assert_eq!(
        message(read_karpathy_split(&path)),
        format!(
            "{}: unknown variant `dev`, expected one of `train`, `val`, `test`, `restval` at line 2 column 36",
            shown(&path)
        )
    );
    let path = write(
        &dir,
        "field.json",
        "{\"images\": [\n{\"split\": \"val\", \"sentences\": []}]}",
    );
    assert_eq!(
        message(read_karpathy_split(&path)),
        format!(
            "{}: missing field `filename` at line 2 column 33",
            shown(&path)
        )
    );
    let path = write(&dir, "syntax.json", "{\"images\": [\n\n{,]}");
    assert_eq!(
        message(read_karpathy_split(&path)),
        format!("{}: key must be a string at line 3 column 2", shown(&path))
    );
}

/// A `.npy` file's bytes: magic, version, padded header, data.
fn npy(version: u8, header: &str, data: &[f32]) -> Vec<u8> {
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
    for value in data {
        bytes.extend(value.to_le_bytes());
    }
    bytes
}

const GOOD: &str = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";

#[test]
fn npy_matrices() {
    let dir = scratch("npy");
    let values = [1.0, -2.5, 3.0, 0.0, 1e-3, 7.0];
    for version in [1, 2] {
        let path = write(
            &dir,
            &format!("v{version}.npy"),
            npy(version, GOOD, &values),
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
    let path = write(&dir, "compact.npy", npy(1, header, &[4.0, 5.0]));
    assert_eq!(read_npy(&path).unwrap().data, [4.0, 5.0]);
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
    let mut future = npy(1, GOOD, &[0.0; 6]);
    future[6] = 9;
    check("version.npy", future, "byte 6: unsupported .npy version 9");
    check(
        "f8.npy",
        npy(1, &GOOD.replace("<f4", "<f8"), &[0.0; 12]),
        "byte 10: dtype '<f8' is not little-endian float32 ('<f4')",
    );
    check(
        "big.npy",
        npy(1, &GOOD.replace("<f4", ">f4"), &[0.0; 6]),
        "byte 10: dtype '>f4' is not little-endian float32 ('<f4')",
    );
    check(
        "fortran.npy",
        npy(2, &GOOD.replace("False", "True"), &[0.0; 6]),
        "byte 12: Fortran-order arrays are not supported",
    );
    check(
        "vector.npy",
        npy(1, &GOOD.replace("(2, 3)", "(6,)"), &[0.0; 6]),
        "byte 10: shape (6,) is not 2-D",
    );
    check(
        "noshape.npy",
        npy(1, "{'descr': '<f4', 'fortran_order': False}", &[]),
        "byte 10: header has no 'shape' tuple",
    );
    check(
        "short.npy",
        npy(1, GOOD, &[0.0; 5]),
        "byte 128: data is truncated: shape (2, 3) needs 24 bytes, found 20",
    );
    check(
        "long.npy",
        npy(1, GOOD, &[0.0; 7]),
        "byte 128: data is too long: shape (2, 3) needs 24 bytes, found 28",
    );
    let mut cut = npy(1, GOOD, &[]);
    cut.truncate(30);
    check(
        "header.npy",
        cut,
        "byte 10: header of 118 bytes is truncated",
    );
}
