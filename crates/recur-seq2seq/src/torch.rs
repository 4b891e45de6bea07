//! The model's parameters under the names of the translate app's PyTorch
//! reference (`apps/translate/reference/seq2seq.py`), so that both programs
//! can start from the same weights.
//!
//! The reference's modules: `source_embedding`, `encoder` (`nn.GRU`,
//! bidirectional), `bridge`, `target_embedding`, `cell` (`nn.GRUCell`),
//! `att_query`, `att_key`, `att_score`, `combine` and `output`.

use std::path::Path;

use burn::module::Param;
use burn::tensor::Tensor;
use recur_cells::{Cell, CellKind, TorchTensors};

use crate::attention::AnyAttention;
use crate::error::Seq2SeqError;
use crate::model::Seq2Seq;

/// One parameter of a [`Seq2Seq`], as PyTorch stores it.
pub enum TorchParam<'a> {
    /// A weight PyTorch stores as `[out, in]`, the transpose of ours
    /// (`nn.Linear`, the recurrent weights).
    Transposed(&'a mut Param<Tensor<2>>),
    /// An `nn.Embedding` table, stored as ours.
    Embedding(&'a mut Param<Tensor<2>>),
    /// A bias.
    Bias(&'a mut Param<Tensor<1>>),
}

impl Seq2Seq {
    /// Every parameter beside its name in the PyTorch reference's state
    /// dict. The reference has one architecture: a one-layer bidirectional
    /// GRU encoder, a one-layer GRU decoder, additive attention and an
    /// untied output layer; any other configuration is an error.
    pub fn torch_parameters(&mut self) -> Result<Vec<(String, TorchParam<'_>)>, Seq2SeqError> {
        let unlike = Seq2SeqError::NotTheReference;
        let Seq2Seq { encoder, decoder } = self;
        if encoder.rnn.kind() != CellKind::Gru {
            return Err(unlike("its cells are GRUs"));
        }
        let AnyAttention::Additive(attention) = &mut decoder.attention else {
            return Err(unlike("its attention is additive"));
        };
        let bidirectional = encoder.rnn.directions() == 2;
        let (true, [forward, backward]) = (bidirectional, &mut encoder.rnn.cells[..]) else {
            return Err(unlike("its encoder is one bidirectional layer"));
        };
        let [cell] = &mut decoder.cells[..] else {
            return Err(unlike("its decoder is one layer"));
        };
        let Some(output_weight) = decoder.output_weight.as_mut() else {
            return Err(unlike("its output layer is not tied to the embedding"));
        };
        let (Some(bridge_bias), Some(key_bias)) =
            (decoder.bridge.bias.as_mut(), attention.key.bias.as_mut())
        else {
            return Err(unlike("its bridge and attention keys have biases"));
        };
        let name = |n: &str| n.to_string();
        let mut params = vec![
            (
                name("source_embedding.weight"),
                TorchParam::Embedding(&mut encoder.embedding.weight),
            ),
            (
                name("target_embedding.weight"),
                TorchParam::Embedding(&mut decoder.embedding.weight),
            ),
            (
                name("bridge.weight"),
                TorchParam::Transposed(&mut decoder.bridge.weight),
            ),
            (name("bridge.bias"), TorchParam::Bias(bridge_bias)),
            (
                name("att_query.weight"),
                TorchParam::Transposed(&mut attention.query.weight),
            ),
            (
                name("att_key.weight"),
                TorchParam::Transposed(&mut attention.key.weight),
            ),
            (name("att_key.bias"), TorchParam::Bias(key_bias)),
            (
                name("att_score.weight"),
                TorchParam::Transposed(&mut attention.score.weight),
            ),
            (
                name("combine.weight"),
                TorchParam::Transposed(&mut decoder.combine.weight),
            ),
            (name("output.weight"), TorchParam::Transposed(output_weight)),
            (
                name("output.bias"),
                TorchParam::Bias(&mut decoder.output_bias),
            ),
        ];
        // The encoder's `nn.GRU` and the decoder's `nn.GRUCell`.
        for (prefix, suffix, cell) in [
            ("encoder.", "_l0", forward),
            ("encoder.", "_l0_reverse", backward),
            ("cell.", "", cell),
        ] {
            let Cell {
                weight_ih,
                weight_hh,
                bias_ih,
                bias_hh,
                ..
            } = cell;
            let (Some(bias_ih), Some(bias_hh)) = (bias_ih.as_mut(), bias_hh.as_mut()) else {
                return Err(unlike("its recurrent cells have biases"));
            };
            params.extend([
                (
                    format!("{prefix}weight_ih{suffix}"),
                    TorchParam::Transposed(weight_ih),
                ),
                (
                    format!("{prefix}weight_hh{suffix}"),
                    TorchParam::Transposed(weight_hh),
                ),
                (
                    format!("{prefix}bias_ih{suffix}"),
                    TorchParam::Bias(bias_ih),
                ),
                (
                    format!("{prefix}bias_hh{suffix}"),
                    TorchParam::Bias(bias_hh),
                ),
            ]);
        }
        Ok(params)
    }

    /// The model with every parameter read from a state dict of the PyTorch
    /// reference saved as safetensors (`seq2seq.py --save-init`), each name
    /// looked up with `prefix` in front. The model must have the reference's
    /// architecture ([`Seq2Seq::torch_parameters`]) and the file's sizes; a
    /// missing or misshaped tensor is an error naming the file and the
    /// tensor. Word ids must mean the same words in both programs (the
    /// reference orders its vocabularies as `recur_data::WordVocab` does).
    pub fn load_torch(
        mut self,
        path: impl AsRef<Path>,
        prefix: &str,
    ) -> Result<Self, Seq2SeqError> {
        let weights = Seq2SeqError::Weights;
        let file = TorchTensors::open(path).map_err(weights)?;
        for (name, param) in self.torch_parameters()? {
            let name = format!("{prefix}{name}");
            match param {
                TorchParam::Transposed(param) => {
                    *param = file.weight(&name, param).map_err(weights)?
                }
                TorchParam::Embedding(param) => {
                    *param = file.tensor(&name, param).map_err(weights)?
                }
                TorchParam::Bias(param) => *param = file.tensor(&name, param).map_err(weights)?,
            }
        }
        Ok(self)
    }
}
