//! Running commands and finding the workspace.

use std::path::PathBuf;
use std::process::Command;

/// The workspace root (the parent of `xtask/`).
pub fn root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map(PathBuf::from).unwrap_or(manifest)
}

/// A `cargo` command run from the workspace root, using the same cargo that
/// runs xtask.
///
/// Without the variables `cargo run` set for xtask itself (`CARGO_PKG_NAME`,
/// `CARGO_MANIFEST_DIR`, ...): some build scripts (ring's, under OpenBLAS's
/// build helper) rerun when those change, so builds started here and from a
/// shell would rebuild each other's burn.
pub fn cargo() -> Command {
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    command.current_dir(root());
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        let set_for_xtask = key.starts_with("CARGO_PKG_")
            || key.starts_with("CARGO_MANIFEST_")
            || matches!(
                &*key,
                "CARGO_BIN_NAME" | "CARGO_CRATE_NAME" | "CARGO_PRIMARY_PACKAGE" | "OUT_DIR"
            );
        if set_for_xtask {
            command.env_remove(&*key);
        }
    }
    command
}

/// Runs `command`, echoing it; an error names the command if it fails.
pub fn exec(command: &mut Command) -> Result<(), String> {
    eprintln!("$ {}", describe(command));
    let status = command
        .status()
        .map_err(|e| format!("could not start `{}`: {e}", describe(command)))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{}` failed ({status})", describe(command)))
    }
}

/// Runs `command` and returns its standard output.
pub fn output(command: &mut Command) -> Result<String, String> {
    eprintln!("$ {}", describe(command));
    let output = command
        .output()
        .map_err(|e| format!("could not start `{}`: {e}", describe(command)))?;
    if !output.status.success() {
        return Err(format!(
            "`{}` failed ({}):\n{}",
            describe(command),
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    String::from_utf8(output.stdout).map_err(|e| format!("`{}`: {e}", describe(command)))
}

fn describe(command: &Command) -> String {
    std::iter::once(command.get_program())
        .chain(command.get_args())
        .map(|s| s.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}
