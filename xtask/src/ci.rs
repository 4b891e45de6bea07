//! `cargo xtask ci`: the whole check, as CI runs it on a bare machine.

use std::path::Path;
use std::process::Command;

use crate::util::{cargo, exec};

/// The examples CI runs to show they work, as `(package, example)`.
const EXAMPLES: [(&str, &str); 3] = [
    ("recur-cells", "many_to_one"),
    ("recur-cells", "one_to_many"),
    ("recur-cells", "many_to_many"),
];

pub fn run() -> Result<(), String> {
    exec(cargo().args(["fmt", "--all", "--check"]))?;
    ensure_vulkan_driver()?;
    // recur-vision's test runs the pretrained network against PyTorch's
    // outputs: it needs the weights, which are too large to commit.
    let python = std::env::var("RECUR_PYTHON").unwrap_or_else(|_| "python3".into());
    crate::vision::fetch_efficientnet_lite0(&python)?;
    // One dev-profile build serves the tests, doctests and examples.
    exec(cargo().args(["test", "--workspace"]))?;
    for (package, example) in EXAMPLES {
        exec(cargo().args(["run", "--quiet", "--package", package, "--example", example]))?;
    }
    exec(
        cargo()
            .args(["doc", "--workspace", "--no-deps"])
            .env("RUSTDOCFLAGS", "-D warnings"),
    )
}

/// The wgpu tests need a Vulkan driver. On a machine without a GPU that is
/// Mesa's software rasteriser (lavapipe); install it when we can (root on
/// Debian), otherwise say what to do.
fn ensure_vulkan_driver() -> Result<(), String> {
    let icd_dirs = ["/usr/share/vulkan/icd.d", "/etc/vulkan/icd.d"];
    let has_driver = icd_dirs
        .iter()
        .any(|dir| std::fs::read_dir(dir).is_ok_and(|mut entries| entries.next().is_some()));
    if has_driver {
        return Ok(());
    }
    let is_root = std::env::var("USER").is_ok_and(|u| u == "root")
        || Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| o.stdout == b"0\n");
    if !(is_root && Path::new("/usr/bin/apt-get").exists()) {
        return Err(
            "no Vulkan driver found: install one (on Debian/Ubuntu without a GPU: \
                    `apt-get install mesa-vulkan-drivers`) and run again"
                .into(),
        );
    }
    exec(Command::new("apt-get").args(["update", "-qq"]))?;
    exec(
        Command::new("apt-get")
            .args(["install", "-y", "-qq", "mesa-vulkan-drivers"])
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )
}
