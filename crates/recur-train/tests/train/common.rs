//! Shared helpers: a scratch folder per test.

use std::path::PathBuf;

/// An empty folder for one test, under the system's temporary folder.
pub fn scratch(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("recur-train-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The one-line message of an error.
pub fn message<T>(result: Result<T, recur_train::TrainError>) -> String {
    let Err(error) = result else {
        panic!("expected an error")
    };
    let text = error.to_string();
    assert!(!text.contains('\n'), "not one line: {text}");
    text
}
