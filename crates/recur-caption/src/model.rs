//! The whole captioner: an image encoder and a caption decoder.

use burn::module::Module;
use burn::tensor::Tensor;
use recur_data::Batch;
use recur_seq2seq::search::{Hypothesis, SearchConfig, beam_search, greedy};

use crate::CaptionError;
use crate::decoder::{CaptionDecoder, DecoderOutput, DecoderState, masked_cross_entropy};
use crate::encoder::{Encoder, ImageEncoder};

/// An image encoder and a caption decoder, trained together.
#[derive(Module, Debug)]
pub struct CaptionModel {
    /// Images to embeddings (and grids).
    pub encoder: Encoder,
    /// Embeddings to words.
    pub decoder: CaptionDecoder,
}

impl CaptionModel {
    /// Joins an encoder and a decoder. A decoder with attention needs an
    /// encoder whose grid has the channels it attends over.
    pub fn new(encoder: Encoder, decoder: CaptionDecoder) -> Result<Self, CaptionError> {
        if let Some(channels) = decoder.attention_channels()
            && encoder.grid_channels() != Some(channels)
        {
            return Err(CaptionError::Argument(match encoder.grid_channels() {
                None => "attention needs an image encoder with a feature grid (a CNN), not feature vectors".into(),
                Some(found) => format!("attention over {channels} channels, but the encoder's grid has {found}"),
            }));
        }
        Ok(CaptionModel { encoder, decoder })
    }

    /// Teacher-forced logits.
    ///
    /// - inputs: `[batch, input]`, one image per row
    /// - tokens: `[batch, time]`, `<start>` and the words, padded
    pub fn forward(
        &self,
        inputs: Tensor<2>,
        tokens: Tensor<2, burn::tensor::Int>,
    ) -> DecoderOutput {
        self.decoder.forward(self.encoder.encode(inputs), tokens)
    }

    /// The training loss of a batch: masked cross-entropy of every word and
    /// the end token, given the image and the words before it.
    ///
    /// - inputs: `[batch, input]`
    /// - captions: encoded sentences (`<start> words <end>`, see
    ///   [`recur_data::WordVocab::encode_sentence`]), padded, in the order of
    ///   `inputs`; each at least two tokens long
    pub fn loss(&self, inputs: Tensor<2>, captions: &Batch) -> Tensor<1> {
        let device = inputs.device();
        let ids = captions.ids_tensor(&device);
        let [batch, time] = captions.dims();
        // Inputs are the tokens but the last, targets the tokens but the first.
        let tokens = ids.clone().narrow(1, 0, time - 1);
        let targets = ids.narrow(1, 1, time - 1);
        let mask = captions.mask(&device).narrow(1, 1, time - 1);
        let output = self.forward(inputs, tokens);
        debug_assert_eq!(output.logits.dims()[0], batch);
        masked_cross_entropy(output.logits, targets, mask)
    }

    /// The decoder state after the image: the start of a search.
    ///
    /// - inputs: `[batch, input]`
    pub fn start(&self, inputs: Tensor<2>) -> DecoderState {
        self.decoder.start(self.encoder.encode(inputs))
    }

    /// Captions a batch of images: greedy search when `config.beam_size` is
    /// 1, else beam search; the best hypothesis of each image.
    ///
    /// - inputs: `[batch, input]`
    pub fn caption(&self, inputs: Tensor<2>, config: &SearchConfig) -> Vec<Hypothesis> {
        let [batch, _] = inputs.dims();
        let state = self.start(inputs);
        if config.beam_size <= 1 {
            greedy(&self.decoder, state, batch, config)
        } else {
            beam_search(&self.decoder, state, batch, config)
                .into_iter()
                .filter_map(|mut best| (!best.is_empty()).then(|| best.swap_remove(0)))
                .collect()
        }
    }
}
