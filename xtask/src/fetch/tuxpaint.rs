//! `data fetch tuxpaint`: Tux Paint's stamps as a captioned image set for
//! the caption app.

use std::path::Path;

use super::package::{apt_unpack, cache, collect_files, write_atomically};

/// Debian's `tuxpaint-stamps-default` (GPL-2) as a captioned image set:
/// every PNG stamp whose `NAME.txt` begins with an English caption, as
/// `datasets/cache/tuxpaint/images/<dir>-<NAME>.png` plus
/// `image_captions.token` (`name.png#0<TAB>caption`, Flickr's layout).
/// The SVG-only stamps are left out (the `image` crate reads no SVG).
pub fn fetch() -> Result<(), String> {
    let unpacked = apt_unpack(
        "tuxpaint-stamps-default",
        &cache().join("download/tuxpaint"),
    )?;
    let stamps = unpacked.join("usr/share/tuxpaint/stamps");
    let pngs = collect_files(&stamps, "png")?;
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
