//! `caption features`: a folder of images -> `features.npy` (EfficientNet-Lite0's
//! pooled 1280-d features, one float32 row per image) + `images.txt` (the
//! image of each row) + `image_captions.token` when the folder comes with
//! captions: the layout `caption train --features` reads, so any captioned
//! photo collection on disk (Flickr8k/30k, COCO, Tux Paint's stamps) trains
//! the same way.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use clap::Args;
use recur_data::{NpyMatrix, read_flickr_captions, write_atomically, write_npy};
use recur_train::{AppError, Backend, Context, Progress};
use recur_vision::{EfficientNetLite0, load_images};

/// Where `cargo xtask data fetch efficientnet-lite0` puts the weights.
pub const DEFAULT_WEIGHTS: &str = "datasets/cache/efficientnet-lite0/efficientnet-lite0.pth";

/// Flags of `caption features`.
#[derive(Args, Debug)]
pub struct FeaturesArgs {
    /// Folder of PNG/JPEG images.
    #[arg(long)]
    images: PathBuf,
    /// Folder to write `features.npy`, `images.txt` (and
    /// `image_captions.token`) into; created if missing.
    #[arg(long)]
    out: PathBuf,
    /// Captions in Flickr's `name.jpg#k<TAB>caption` layout. By default
    /// `image_captions.token` in the image folder or beside it, if there is
    /// one. With captions, the rows follow the order in which images first
    /// appear in them (what the caption reader expects) and only captioned
    /// images are encoded; without, every image in name order.
    #[arg(long)]
    captions: Option<PathBuf>,
    /// EfficientNet-Lite0's weights (`cargo xtask data fetch efficientnet-lite0`).
    #[arg(long, default_value = DEFAULT_WEIGHTS)]
    weights: PathBuf,
    /// Where the network runs (flex, burn's pure-Rust CPU backend, is the
    /// fastest here without a GPU: about 0.1 s per image on 2 cores).
    #[arg(long, default_value = "flex")]
    backend: Backend,
    /// Images per forward pass.
    #[arg(long, default_value_t = 16)]
    batch_size: usize,
}

/// Runs `caption features`.
pub fn run(args: FeaturesArgs) -> Result<(), AppError> {
    if !args.weights.is_file() {
        return Err(format!(
            "{}: no such file (run `cargo xtask data fetch efficientnet-lite0`)",
            args.weights.display()
        )
        .into());
    }
    let captions = args
        .captions
        .clone()
        .or_else(|| find_captions(&args.images));
    let names = match &captions {
        Some(path) => captioned_images(path, &args.images)?,
        None => image_names(&args.images)?,
    };
    if names.is_empty() {
        return Err(format!("{}: no PNG or JPEG images", args.images.display()).into());
    }
    let device = args.backend.device();
    let net = EfficientNetLite0::load(&args.weights, &device)?;
    let batch_size = args.batch_size.max(1);
    let mut rows: Vec<f32> = Vec::with_capacity(names.len() * 1280);
    let mut columns = 0;
    let mut progress = Progress::new(names.len() as u64, "img/s");
    for batch in names.chunks(batch_size) {
        let paths: Vec<PathBuf> = batch.iter().map(|name| args.images.join(name)).collect();
        let images = load_images(&paths, &device)?;
        let pooled = net.features(images).pooled;
        columns = pooled.dims()[1];
        let values = pooled
            .into_data()
            .try_to_vec::<f32>()
            .map_err(|e| format!("reading features back from the device: {e:?}"))?;
        rows.extend(values);
        progress.update(batch.len() as u64, batch.len() as u64, None);
    }
    progress.finish();

    std::fs::create_dir_all(&args.out).context(args.out.display())?;
    let npy = args.out.join("features.npy");
    let matrix = NpyMatrix {
        rows: names.len(),
        cols: columns,
        data: rows,
    };
    write_npy(&npy, &matrix)?;
    let list = args.out.join("images.txt");
    let mut text = names.join("\n");
    text.push('\n');
    write_atomically(&list, text.as_bytes()).context(list.display())?;
    let mut wrote = format!("{} and {}", npy.display(), list.display());
    if let Some(path) = &captions {
        let token = args.out.join("image_captions.token");
        if std::fs::canonicalize(path).ok() != std::fs::canonicalize(&token).ok() {
            let text = std::fs::read(path).context(path.display())?;
            write_atomically(&token, &text).context(token.display())?;
        }
        wrote.push_str(&format!(" and {}", token.display()));
    }
    eprintln!(
        "wrote {wrote} ({} images x {columns} features)",
        names.len()
    );
    Ok(())
}

/// `image_captions.token` in `images` or its parent folder (Tux Paint's
/// layout is `tuxpaint/{images/, image_captions.token}`).
fn find_captions(images: &Path) -> Option<PathBuf> {
    [Some(images), images.parent()]
        .into_iter()
        .flatten()
        .map(|dir| dir.join("image_captions.token"))
        .find(|path| path.is_file())
}

/// The captioned images in order of first appearance; each must be a file
/// in `images`.
fn captioned_images(captions: &Path, images: &Path) -> Result<Vec<String>, AppError> {
    let lines = read_flickr_captions(captions)?;
    let mut seen = HashSet::new();
    let mut names = Vec::new();
    for (line, caption) in lines.into_iter().enumerate() {
        if seen.insert(caption.image.clone()) {
            if !images.join(&caption.image).is_file() {
                return Err(format!(
                    "{}:{}: image {} is not in {}",
                    captions.display(),
                    line + 1,
                    caption.image,
                    images.display()
                )
                .into());
            }
            names.push(caption.image);
        }
    }
    Ok(names)
}

/// The PNG and JPEG files in `images`, sorted by name.
fn image_names(images: &Path) -> Result<Vec<String>, AppError> {
    let entries = std::fs::read_dir(images).context(images.display())?;
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        .filter(|entry| entry.path().is_file())
        .filter_map(|entry| entry.file_name().into_string().ok())
        .filter(|name| {
            let lower = name.to_lowercase();
            [".png", ".jpg", ".jpeg"]
                .iter()
                .any(|ext| lower.ends_with(ext))
        })
        .collect();
    names.sort();
    Ok(names)
}
