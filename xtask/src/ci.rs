//! `cargo xtask ci`: the whole check, as CI runs it on a bare machine.

use crate::system;
use crate::util::{cargo, exec};

/// The examples CI runs to show they work, as `(package, example)`.
const EXAMPLES: [(&str, &str); 3] = [
    ("recur-cells", "many_to_one"),
    ("recur-cells", "one_to_many"),
    ("recur-cells", "many_to_many"),
];

/// The cargo features that build the wgpu backend, which the tests,
/// doctests, examples and docs build with. (An app's own `wgpu` feature
/// turns on the same two.)
const GPU_FEATURES: &str = "recur-cells/wgpu,recur-train/wgpu";

pub fn run() -> Result<(), String> {
    exec(cargo().args(["fmt", "--all", "--check"]))?;
    system::ensure(&system::FOR_APPS)?;
    system::ensure(&[system::VULKAN_DRIVER])?;
    // recur-vision's test runs the pretrained network against PyTorch's
    // outputs: it needs the weights, which are too large to commit.
    let python = std::env::var("RECUR_PYTHON").unwrap_or_else(|_| "python3".into());
    crate::fetch::efficientnet_lite0::fetch(&python)?;
    // One dev-profile build serves the tests, doctests and examples.
    let features = ["--features", GPU_FEATURES];
    exec(cargo().args(["test", "--workspace"]).args(features))?;
    for (package, example) in EXAMPLES {
        let run = ["run", "--quiet", "--package", package, "--example", example];
        exec(cargo().args(run).args(features))?;
    }
    exec(
        cargo()
            .args(["doc", "--workspace", "--no-deps"])
            .args(features)
            .env("RUSTDOCFLAGS", "-D warnings"),
    )
}
