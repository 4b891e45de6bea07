//! Image encoders: what turns an image into the caption decoder's first
//! input (and, for attention, a grid of feature vectors).

use burn::config::Config;
use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};

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
/// features, or pixels flattened channels first.
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
        let conv = |k: usize| {
            Conv2dConfig::new([widths[k], widths[k + 1]], [3, 3])
                .with_padding(PaddingConfig2d::Same)
                .init(device)
        };
        // Three 2x2 poolings: the grid side is the picture's side / 8.
        let grid_side = self.image_size / 8;
        CnnEncoder {
            convs: vec![conv(0), conv(1), conv(2)],
            pool: MaxPool2dConfig::new([2, 2]).init(),
            embedding: LinearConfig::new(grid_side * grid_side * widths[3], self.embed)
                .init(device),
            image_size: self.image_size,
        }
    }
}

/// A small CNN trained end to end with the decoder: three blocks of 3x3
/// convolution, ReLU and 2x2 max pooling. The last block's output is the
/// feature grid; the image embedding is a linear map of the whole grid, so
/// it keeps where things are.
#[derive(Module, Debug)]
pub struct CnnEncoder {
    /// The three convolutions.
    pub convs: Vec<Conv2d>,
    /// 2x2 max pooling after each convolution.
    pub pool: MaxPool2d,
    /// Flattened grid to image embedding.
    pub embedding: Linear,
    /// Side of the square input pictures.
    pub image_size: usize,
}

impl ImageEncoder for CnnEncoder {
    /// - input: `[batch, 3 * image_size * image_size]`, channels first
    fn encode(&self, input: Tensor<2>) -> Encoded {
        let [batch, _] = input.dims();
        let side = self.image_size;
        let mut x = input.reshape([batch, 3, side, side]);
        for conv in &self.convs {
            x = self.pool.forward(relu(conv.forward(x)));
        }
        let [_, channels, height, width] = x.dims();
        let embedding = self
            .embedding
            .forward(x.clone().reshape([batch, channels * height * width]));
        // [batch, channels, h, w] -> [batch, h * w, channels]
        let grid = x.reshape([batch, channels, height * width]).swap_dims(1, 2);
        Encoded {
            embedding,
            grid: Some(grid),
        }
    }

    fn grid_channels(&self) -> Option<usize> {
        self.convs.last().map(|conv| conv.weight.dims()[0])
    }
}

/// The encoder of a caption model: one of the kinds, chosen at run time.
#[derive(Module, Debug)]
pub enum Encoder {
    /// Precomputed features.
    Features(FeatureEncoder),
    /// A small CNN trained end to end.
    Cnn(CnnEncoder),
}

impl ImageEncoder for Encoder {
    fn encode(&self, input: Tensor<2>) -> Encoded {
        match self {
            Encoder::Features(encoder) => encoder.encode(input),
            Encoder::Cnn(encoder) => encoder.encode(input),
        }
    }

    fn grid_channels(&self) -> Option<usize> {
        match self {
            Encoder::Features(encoder) => encoder.grid_channels(),
            Encoder::Cnn(encoder) => encoder.grid_channels(),
        }
    }
}
