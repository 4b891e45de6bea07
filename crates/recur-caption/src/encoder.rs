//! Image encoders: what turns an image into the caption decoder's first
//! input (and, for attention, a grid of feature vectors).

use burn::config::Config;
use burn::module::Module;
use burn::nn::interpolate::{Interpolate2dConfig, InterpolateMode};
use burn::nn::{Linear, LinearConfig};
use burn::tensor::activation::relu;
use burn::tensor::module::{conv2d, max_pool2d};
use burn::tensor::ops::{ConvOptions, MaxPoolOptions};
use burn::tensor::{Device, Tensor};
use recur_vision::EfficientNetLite0;

/// What an [`ImageEncoder`] makes of a batch of images.
#[derive(Debug, Clone)]
pub struct Encoded {
    /// The image embedding fed to the LSTM as its first input, `[batch, embed]`.
    pub embedding: Tensor<2>,
    /// Feature vectors at each location of a grid over the image, `[batch,
    /// locations, channels]`, for soft attention; `None` when the encoder
    /// sees no grid (precomputed feature vectors).
    pub grid: Option<Tensor<3>>,
}

/// Turns a batch of images into an [`Encoded`].
///
/// Every kind reads one row per image (`[batch, input]`): precomputed
/// features, or pixels flattened row-major with RGB interleaved.
pub trait ImageEncoder {
    /// Encodes `[batch, input]` rows.
    fn encode(&self, input: Tensor<2>) -> Encoded;
    /// Channels of each grid location, `None` without a grid.
    fn grid_channels(&self) -> Option<usize>;
}

/// Configuration of a [`FeatureEncoder`].
#[derive(Config, Debug)]
pub struct FeatureEncoderConfig {
    /// Size of each precomputed feature vector.
    pub feature_size: usize,
    /// Size of the image embedding (the decoder's word-embedding size).
    pub embed: usize,
}

impl FeatureEncoderConfig {
    /// Builds the encoder.
    pub fn init(&self, device: &Device) -> FeatureEncoder {
        FeatureEncoder {
            linear: LinearConfig::new(self.feature_size, self.embed).init(device),
        }
    }
}

/// Precomputed features (the chapter's `features.npy`): the image embedding
/// is a linear map of the feature vector.
#[derive(Module, Debug)]
pub struct FeatureEncoder {
    /// Feature vector to image embedding.
    pub linear: Linear,
}

impl ImageEncoder for FeatureEncoder {
    /// - input: `[batch, feature_size]`
    fn encode(&self, input: Tensor<2>) -> Encoded {
        Encoded {
            embedding: self.linear.forward(input),
            grid: None,
        }
    }

    fn grid_channels(&self) -> Option<usize> {
        None
    }
}

/// Configuration of a [`CnnEncoder`].
#[derive(Config, Debug)]
pub struct CnnEncoderConfig {
    /// Side of the square RGB input pictures.
    pub image_size: usize,
    /// Size of the image embedding (the decoder's word-embedding size).
    pub embed: usize,
    /// Channels of the first convolution; the second and third have two
    /// and four times as many.
    #[config(default = 16)]
    pub channels: usize,
}

impl CnnEncoderConfig {
    /// Builds the encoder.
    pub fn init(&self, device: &Device) -> CnnEncoder {
        let widths = [3, self.channels, 2 * self.channels, 4 * self.channels];
        // A 3x3 convolution is a linear map of the 9 neighbours' channels.
        let conv = |k: usize| LinearConfig::new(9 * widths[k], widths[k + 1]).init(device);
        // Three 2x2 poolings: the grid side is the picture's side / 8.
        let grid_side = self.image_size / 8;
        CnnEncoder {
            convs: vec![conv(0), conv(1), conv(2)],
            embedding: LinearConfig::new(grid_side * grid_side * widths[3], self.embed)
                .init(device),
            image_size: self.image_size,
        }
    }
}

/// A small CNN trained end to end with the decoder: three blocks of 3x3
/// convolution (zero padding), ReLU and 2x2 max pooling. The last block's
/// output is the feature grid; the image embedding is a linear map of the
/// whole grid, so it keeps where things are.
///
/// Each convolution's weights are a [`Linear`] of the nine neighbours'
/// channels (the layout of the first version, which computed it as shifted
/// copies and one matmul), run as burn's `conv2d`: on flex, the default CPU
/// backend, the app's default training took 0.56 of the shifted copies'
/// time (1,325 against 745 captions/s, `caption train --steps 40`); on the
/// deprecated ndarray 1.7 times it (154 against 259).
#[derive(Module, Debug)]
pub struct CnnEncoder {
    /// The three convolutions, `[9 * in_channels] -> [out_channels]`, the
    /// nine neighbours in row-major order.
    pub convs: Vec<Linear>,
    /// Flattened grid to image embedding.
    pub embedding: Linear,
    /// Side of the square input pictures.
    pub image_size: usize,
}

/// 3x3 convolution with zero padding of `[batch, c, h, w]` by `conv`, whose
/// weight row `(3 * dy + dx) * c + channel` holds that neighbour's channel.
fn conv3x3(x: Tensor<4>, conv: &Linear) -> Tensor<4> {
    let [rows, out] = conv.weight.dims();
    // [dy, dx, in, out] -> burn's [out, in, dy, dx].
    let kernel = conv
        .weight
        .val()
        .reshape([3, 3, rows / 9, out])
        .permute([3, 2, 0, 1]);
    let bias = conv.bias.as_ref().map(|b| b.val());
    conv2d(x, kernel, bias, ConvOptions::new([1, 1], [1, 1], [1, 1], 1))
}

impl ImageEncoder for CnnEncoder {
    /// - input: `[batch, image_size * image_size * 3]`, pixels row-major,
    ///   RGB interleaved (channels last)
    fn encode(&self, input: Tensor<2>) -> Encoded {
        let [batch, _] = input.dims();
        let side = self.image_size;
        let mut x: Tensor<4> = input.reshape([batch, side, side, 3]).permute([0, 3, 1, 2]);
        for conv in &self.convs {
            x = max_pool2d(relu(conv3x3(x, conv)), MaxPoolOptions::new([2, 2]));
        }
        // Channels last again: the grid's cells in row-major order.
        let x = x.permute([0, 2, 3, 1]);
        let [_, height, width, channels] = x.dims();
        let embedding = self
            .embedding
            .forward(x.clone().reshape([batch, height * width * channels]));
        Encoded {
            embedding,
            grid: Some(x.reshape([batch, height * width, channels])),
        }
    }

    fn grid_channels(&self) -> Option<usize> {
        self.convs.last().map(|conv| conv.weight.dims()[1])
    }
}

/// Configuration of a [`PretrainedEncoder`].
#[derive(Config, Debug)]
pub struct PretrainedEncoderConfig {
    /// Side of the square RGB input pictures.
    pub image_size: usize,
    /// Size of the image embedding (the decoder's word-embedding size).
    pub embed: usize,
    /// Side the pictures are resized to before the network (bilinear). The
    /// network was trained at 224; its grid has a cell per 32 pixels (7 x 7
    /// at 224), and its cost grows with the square of this side.
    #[config(default = "recur_vision::IMAGE_SIZE")]
    pub network_size: usize,
}

impl PretrainedEncoderConfig {
    /// Builds the encoder around `net` (from
    /// [`EfficientNetLite0::load`]), frozen: its weights get no gradients and
    /// its batch norms keep their ImageNet statistics while the rest of the
    /// caption model trains.
    pub fn init(&self, net: EfficientNetLite0, device: &Device) -> PretrainedEncoder {
        let [channels] = net.bn1.gamma.shape().dims();
        PretrainedEncoder {
            net: net.freeze(),
            embedding: LinearConfig::new(channels, self.embed).init(device),
            image_size: self.image_size,
            network_size: self.network_size,
        }
    }
}

/// A pretrained ImageNet CNN (EfficientNet-Lite0, from `recur-vision`),
/// frozen, under a trained linear image embedding: the chapter's "CNN image
/// embedding" with a network that already knows what is in a picture. Its
/// last feature grid (1280 channels) is the grid attention looks at; the
/// grid's average is what the embedding maps.
///
/// For large data sets, computing the network once per image is cheaper:
/// `caption features` writes its pooled features for a [`FeatureEncoder`].
#[derive(Module, Debug)]
pub struct PretrainedEncoder {
    /// The frozen network.
    pub net: EfficientNetLite0,
    /// Pooled features to image embedding.
    pub embedding: Linear,
    /// Side of the square input pictures.
    pub image_size: usize,
    /// Side the network sees.
    pub network_size: usize,
}

impl ImageEncoder for PretrainedEncoder {
    /// - input: `[batch, image_size * image_size * 3]`, pixels row-major,
    ///   RGB interleaved, values `pixel / 255 - 0.5` (as the shapes set
    ///   gives them)
    fn encode(&self, input: Tensor<2>) -> Encoded {
        let [batch, _] = input.dims();
        let side = self.image_size;
        let x: Tensor<4> = input.reshape([batch, side, side, 3]).permute([0, 3, 1, 2]);
        // To the network's normalisation, (pixel - 127) / 128.
        let x = (x + 0.5) * (255.0 / 128.0) - 127.0 / 128.0;
        let x = if side == self.network_size {
            x
        } else {
            Interpolate2dConfig::new()
                .with_output_size(Some([self.network_size; 2]))
                .with_mode(InterpolateMode::Linear)
                .init()
                .forward(x)
        };
        let features = self.net.features(x);
        // Frozen weights get no gradients, and detaching makes sure of it even
        // if a loaded record asked for them.
        let (pooled, grid) = (features.pooled.detach(), features.grid.detach());
        Encoded {
            embedding: self.embedding.forward(pooled),
            // [batch, channels, h, w] -> [batch, h * w, channels]
            grid: Some(grid.flatten::<3>(2, 3).swap_dims(1, 2)),
        }
    }

    fn grid_channels(&self) -> Option<usize> {
        Some(self.embedding.weight.dims()[0])
    }
}

/// The encoder of a caption model: one of the kinds, chosen at run time.
// One per model, built once: the size of the pretrained variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum Encoder {
    /// Precomputed features.
    Features(FeatureEncoder),
    /// A small CNN trained end to end.
    Cnn(CnnEncoder),
    /// A frozen pretrained CNN.
    Pretrained(PretrainedEncoder),
}

impl ImageEncoder for Encoder {
    fn encode(&self, input: Tensor<2>) -> Encoded {
        match self {
            Encoder::Features(encoder) => encoder.encode(input),
            Encoder::Cnn(encoder) => encoder.encode(input),
            Encoder::Pretrained(encoder) => encoder.encode(input),
        }
    }

    fn grid_channels(&self) -> Option<usize> {
        match self {
            Encoder::Features(encoder) => encoder.grid_channels(),
            Encoder::Cnn(encoder) => encoder.grid_channels(),
            Encoder::Pretrained(encoder) => encoder.grid_channels(),
        }
    }
}
