//! Property test of the features reader: with one of its three files
//! (features, captions, split) cut at a random length, with random bytes
//! changed, or both, it either reads or gives a one-line error naming one
//! of the files; it never panics. Seeded, so a failure repeats.

use std::panic::{AssertUnwindSafe, catch_unwind};

use recur_caption::read_features;
use recur_data::{NpyMatrix, SplitMix64, write_npy};

use crate::data::{TOKENS, scratch};

#[test]
fn features_reader_never_panics() {
    let dir = scratch("fuzz");
    let paths = [
        dir.join("features.npy"),
        dir.join("image_captions.token"),
        dir.join("split.json"),
    ];
    let matrix = NpyMatrix {
        rows: 2,
        cols: 3,
        data: vec![1., 2., 3., 4., 5., 6.],
    };
    write_npy(&paths[0], &matrix).unwrap();
    let valid = [
        std::fs::read(&paths[0]).unwrap(),
        TOKENS.as_bytes().to_vec(),
        br#"{"images": [
            {"filename": "b.jpg", "split": "test", "sentences": []},
            {"filename": "a.jpg", "split": "train", "sentences": []}]}"#
            .to_vec(),
    ];
    let write_all = || {
        for (path, bytes) in paths.iter().zip(&valid) {
            std::fs::write(path, bytes).unwrap();
        }
    };
    let read = || read_features(&paths[0], &paths[1], Some(&paths[2]));
    write_all();
    read().unwrap();

    let mut rng = SplitMix64::new(22);
    let (mut parsed, mut refused) = (0, 0);
    for case in 0..300 {
        write_all();
        let file = rng.below(3);
        let (bytes, what) = rng.corrupt(&valid[file]);
        std::fs::write(&paths[file], bytes).unwrap();
        let what = format!("{}: {what}", paths[file].display());
        match catch_unwind(AssertUnwindSafe(read)) {
            Ok(Ok(_)) => parsed += 1,
            Ok(Err(error)) => {
                let text = error.to_string();
                assert!(
                    !text.contains('\n')
                        && paths
                            .iter()
                            .any(|path| text.starts_with(&format!("{}:", path.display()))),
                    "case {case} ({what}): not one line naming a file: {text}"
                );
                refused += 1;
            }
            Err(_) => panic!("case {case} ({what}): read_features panicked"),
        }
    }
    assert!(
        parsed > 0 && refused > 0,
        "{parsed} parsed, {refused} refused"
    );
    std::fs::remove_dir_all(&dir).ok();
}
