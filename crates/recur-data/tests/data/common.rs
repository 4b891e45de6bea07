//! Shared helpers: a scratch folder per test, files, one-line messages.

use std::path::{Path, PathBuf};

/// An empty folder for one test, under the system's temporary folder.
pub fn scratch(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("recur-data-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Writes `bytes` to `name` in `dir` and returns its path.
pub fn write(dir: &Path, name: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// The one-line message of an error.
pub fn message<T: std::fmt::Debug>(result: Result<T, recur_data::DataError>) -> String {
    let text = result.unwrap_err().to_string();
    assert!(!text.contains('\n'), "not one line: {text}");
    text
}

/// A path as error messages show it.
pub fn shown(path: &Path) -> String {
    path.display().to_string()
}
