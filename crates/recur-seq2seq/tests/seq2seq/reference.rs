//! The model against the translate app's PyTorch reference
//! (`apps/translate/reference/seq2seq.py`): from the reference's initial
//! weights, one teacher-forced batch gives PyTorch's loss and PyTorch's
//! gradient for every parameter. The fixture is written by
//! `tests/fixtures/generate.py`; the weights are read by the library's own
//! loader ([`Seq2Seq::load_torch`]), the one the translate app's `--init`
//! uses.

use std::collections::BTreeMap;
use std::path::PathBuf;

use recur_data::SplitMix64;
use recur_seq2seq::attention::AttentionKind;
use recur_seq2seq::torch::TorchParam;
use recur_seq2seq::{PairBatch, Seq2SeqConfig, Seq2SeqError};
use safetensors::SafeTensors;

use crate::common::{assert_close, backends, host};

/// The reference's tensors (by name) and metadata.
struct Reference {
    tensors: BTreeMap<String, Vec<f32>>,
    metadata: BTreeMap<String, String>,
}

impl Reference {
    fn path() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/reference.safetensors")
    }

    fn open() -> Self {
        let bytes = std::fs::read(Self::path()).unwrap();
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
                (name, values)
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
    }

    fn size(&self, name: &str) -> usize {
        let sizes: serde_json::Value = serde_json::from_str(&self.metadata["sizes"]).unwrap();
        sizes[name].as_u64().unwrap() as usize
    }
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
        .unwrap()
        .load_torch(Reference::path(), "param.")
        .unwrap();
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
        for (name, param) in model.torch_parameters().unwrap() {
            let grad = match param {
                TorchParam::Transposed(param) => host(param.grad(&grads).unwrap().transpose()),
                TorchParam::Embedding(param) => host(param.grad(&grads).unwrap()),
                TorchParam::Bias(param) => host(param.grad(&grads).unwrap()),
            };
            assert_close(
                &format!("{backend}: gradient of {name}"),
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

#[test]
fn another_architecture_or_a_missing_tensor_is_a_clear_error() {
    let reference = Reference::open();
    let config = Seq2SeqConfig::new(
        reference.size("source_vocab"),
        reference.size("target_vocab"),
    )
    .with_embedding(reference.size("embedding"))
    .with_hidden(reference.size("hidden"));
    let device = backends()[0].device();
    let dot = config.clone().with_attention(AttentionKind::Dot);
    let error = dot
        .init(&device)
        .unwrap()
        .load_torch(Reference::path(), "param.");
    assert!(
        matches!(error, Err(Seq2SeqError::NotTheReference(_))),
        "dot attention loaded the reference's weights"
    );
    // Without the fixture's prefix no name is found: the first is named.
    let error = config
        .init(&device)
        .unwrap()
        .load_torch(Reference::path(), "")
        .err()
        .unwrap()
        .to_string();
    assert!(
        error.ends_with("reference.safetensors: missing tensor `source_embedding.weight`"),
        "{error}"
    );
}
