//! The model against the translate app's PyTorch reference
//! (`apps/translate/reference/seq2seq.py`): from the reference's initial
//! weights, one teacher-forced batch gives PyTorch's loss and PyTorch's
//! gradient for every parameter. The fixture is written by
//! `tests/fixtures/generate.py`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use burn::module::Param;
use burn::tensor::{Device, Tensor, TensorData};
use recur_cells::Cell;
use recur_data::SplitMix64;
use recur_seq2seq::attention::AnyAttention;
use recur_seq2seq::{PairBatch, Seq2Seq, Seq2SeqConfig};
use safetensors::SafeTensors;

use crate::common::{assert_close, backends, host};

/// The reference's tensors (by name, with their shapes) and metadata.
struct Reference {
    tensors: BTreeMap<String, (Vec<usize>, Vec<f32>)>,
    metadata: BTreeMap<String, String>,
}

impl Reference {
    fn open() -> Self {
        let path =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/reference.safetensors");
        let bytes = std::fs::read(&path).unwrap();
        let file = SafeTensors::deserialize(&bytes).unwrap();
        let tensors = file
            .tensors()
            .into_iter()
            .map(|(name, view)| {
                let values = view
                    .data()
                    .chunks_exact(4)
                    .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                    .collect();
                (name, (view.shape().to_vec(), values))
            })
            .collect();
        let (_, header) = SafeTensors::read_metadata(&bytes).unwrap();
        let metadata = header.metadata().clone().unwrap().into_iter().collect();
        Reference { tensors, metadata }
    }

    fn values(&self, name: &str) -> &[f32] {
        &self
            .tensors
            .get(name)
            .unwrap_or_else(|| panic!("no `{name}` in the fixture"))
            .1
    }

    fn size(&self, name: &str) -> usize {
        let sizes: serde_json::Value = serde_json::from_str(&self.metadata["sizes"]).unwrap();
        sizes[name].as_u64().unwrap() as usize
    }

    /// The 2-d tensor `name`, transposed from PyTorch's `[out, in]` when
    /// `transposed`.
    fn matrix(&self, name: &str, transposed: bool, device: &Device) -> Tensor<2> {
        let (shape, values) = &self.tensors[name];
        let shape: [usize; 2] = shape.as_slice().try_into().unwrap();
        let tensor = Tensor::<2>::from_data(TensorData::new(values.clone(), shape), device);
        if transposed {
            tensor.transpose()
        } else {
            tensor
        }
    }

    fn vector(&self, name: &str, device: &Device) -> Tensor<1> {
        let values = self.values(name).to_vec();
        let len = values.len();
        Tensor::from_data(TensorData::new(values, [len]), device)
    }
}

/// A 2-d parameter: its PyTorch name, the parameter, and whether PyTorch
/// stores it transposed (`[out, in]`; embeddings are not).
type Matrix<'a> = (String, &'a mut Param<Tensor<2>>, bool);
/// A 1-d parameter and its PyTorch name.
type Vector<'a> = (String, &'a mut Param<Tensor<1>>);

/// Every parameter of the model beside its name in the reference.
fn parameters(model: &mut Seq2Seq) -> (Vec<Matrix<'_>>, Vec<Vector<'_>>) {
    let Seq2Seq { encoder, decoder } = model;
    let AnyAttention::Additive(attention) = &mut decoder.attention else {
        panic!("the reference uses additive attention");
    };
    let [forward, backward] = &mut encoder.rnn.cells[..] else {
        panic!("one bidirectional encoder layer");
    };
    let [cell] = &mut decoder.cells[..] else {
        panic!("one decoder layer");
    };
    let name = |n: &str| n.to_string();
    let mut matrices = vec![
        (
            name("source_embedding.weight"),
            &mut encoder.embedding.weight,
            false,
        ),
        (
            name("target_embedding.weight"),
            &mut decoder.embedding.weight,
            false,
        ),
        (name("bridge.weight"), &mut decoder.bridge.weight, true),
        (name("att_query.weight"), &mut attention.query.weight, true),
        (name("att_key.weight"), &mut attention.key.weight, true),
        (name("att_score.weight"), &mut attention.score.weight, true),
        (name("combine.weight"), &mut decoder.combine.weight, true),
        (
            name("output.weight"),
            decoder.output_weight.as_mut().unwrap(),
            true,
        ),
    ];
    let mut vectors = vec![
        (name("bridge.bias"), decoder.bridge.bias.as_mut().unwrap()),
        (name("att_key.bias"), attention.key.bias.as_mut().unwrap()),
        (name("output.bias"), &mut decoder.output_bias),
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
        matrices.push((format!("{prefix}weight_ih{suffix}"), weight_ih, true));
        matrices.push((format!("{prefix}weight_hh{suffix}"), weight_hh, true));
        vectors.push((
            format!("{prefix}bias_ih{suffix}"),
            bias_ih.as_mut().unwrap(),
        ));
        vectors.push((
            format!("{prefix}bias_hh{suffix}"),
            bias_hh.as_mut().unwrap(),
        ));
    }
    (matrices, vectors)
}

#[test]
fn one_batch_gives_pytorchs_loss_and_gradients() {
    let reference = Reference::open();
    let pairs: Vec<(Vec<usize>, Vec<usize>)> =
        serde_json::from_str(&reference.metadata["pairs"]).unwrap();
    // The reference's ids: pad 0, start 1, end 2.
    let batch = PairBatch::new(&pairs, 1, 2, 0);
    for backend in backends() {
        let device = backend.autodiff_device();
        let mut model = Seq2SeqConfig::new(
            reference.size("source_vocab"),
            reference.size("target_vocab"),
        )
        .with_embedding(reference.size("embedding"))
        .with_hidden(reference.size("hidden"))
        .init(&device)
        .unwrap();
        let (matrices, vectors) = parameters(&mut model);
        for (name, param, transposed) in matrices {
            let value = reference.matrix(&format!("param.{name}"), transposed, &device);
            *param = Param::from_tensor(value);
        }
        for (name, param) in vectors {
            *param = Param::from_tensor(reference.vector(&format!("param.{name}"), &device));
        }

        let logits = model.forward(&batch, 1.0, &mut SplitMix64::new(0)).unwrap();
        let loss = model.loss(logits, &batch);
        assert_close(
            &format!("{backend}: loss"),
            &host(loss.clone()),
            reference.values("loss"),
            1e-5,
        );
        let grads = loss.backward();
        let mut checked = 0;
        let (matrices, vectors) = parameters(&mut model);
        for (name, param, transposed) in matrices {
            let grad = param.grad(&grads).unwrap();
            let grad = if transposed { grad.transpose() } else { grad };
            let what = format!("{backend}: gradient of {name}");
            assert_close(
                &what,
                &host(grad),
                reference.values(&format!("grad.{name}")),
                1e-4,
            );
            checked += 1;
        }
        for (name, param) in vectors {
            let what = format!("{backend}: gradient of {name}");
            let grad = host(param.grad(&grads).unwrap());
            assert_close(
                &what,
                &grad,
                reference.values(&format!("grad.{name}")),
                1e-4,
            );
            checked += 1;
        }
        let expected = reference
            .tensors
            .keys()
            .filter(|k| k.starts_with("grad."))
            .count();
        assert_eq!(
            checked, expected,
            "{backend}: every parameter of the reference checked"
        );
    }
}
