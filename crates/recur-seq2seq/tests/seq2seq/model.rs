//! The encoder-decoder: padding is ignored, teacher forcing switches inputs,
//! and a tiny model learns to reverse sequences.

use burn::grad_clipping::GradientClippingConfig;
use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::{Device, Int, Tensor, TensorData};
use recur_cells::CellKind;
use recur_data::SplitMix64;
use recur_seq2seq::attention::AttentionKind;
use recur_seq2seq::search::{SearchConfig, StepDecoder, beam_search, greedy};
use recur_seq2seq::{PairBatch, Seq2Seq, Seq2SeqConfig, Seq2SeqError};

use crate::common::{assert_close, backends, host};

const PAD: usize = 0;
const START: usize = 1;
const END: usize = 2;

fn tiny(cell: CellKind, attention: AttentionKind, device: &Device) -> Seq2Seq {
    Seq2SeqConfig::new(9, 9)
        .with_embedding(4)
        .with_hidden(3)
        .with_cell(cell)
        .with_attention(attention)
        .init(device)
        .unwrap()
}

/// Gradients of a few parameters from every part of the model.
fn gradients(model: &Seq2Seq, loss: Tensor<1>) -> Vec<Vec<f32>> {
    let grads = loss.backward();
    let take = |t: Tensor<2>| host(t.grad(&grads).expect("parameter has a gradient"));
    vec![
        take(model.encoder.embedding.weight.val()),
        take(model.encoder.rnn.cells[1].weight_hh.val()),
        take(model.decoder.cells[0].weight_ih.val()),
        take(model.decoder.combine.weight.val()),
        take(model.decoder.output_weight.as_ref().unwrap().val()),
    ]
}

#[test]
fn padding_changes_neither_loss_nor_gradients() {
    let pairs = [(vec![3, 4, 5, 6], vec![7, 8, 3]), (vec![5, 6], vec![4])];
    for backend in backends() {
        let device = backend.autodiff_device();
        for (cell, attention) in [
            (CellKind::Gru, AttentionKind::Additive),
            (CellKind::Lstm, AttentionKind::General),
        ] {
            let model = tiny(cell, attention, &device);
            let mut rng = SplitMix64::new(0);
            // The batch mean times its token count is the sum of the
            // per-pair sums; so are its gradients.
            let mut total = |pairs: &[(Vec<usize>, Vec<usize>)]| {
                let batch = PairBatch::new(pairs, START, END, PAD);
                let logits = model.forward(&batch, 1.0, &mut rng).unwrap();
                model.loss(logits, &batch) * batch.target_tokens() as f64
            };
            let batched = total(&pairs);
            let alone = total(&pairs[..1]) + total(&pairs[1..]);
            let what = format!("{backend} {cell}");
            assert_close(&what, &host(batched.clone()), &host(alone.clone()), 1e-5);
            for (g, e) in gradients(&model, batched)
                .iter()
                .zip(gradients(&model, alone))
            {
                assert_close(&format!("{what} gradient"), g, &e, 1e-4);
            }
        }
    }
}

#[test]
fn teacher_forcing_feeds_references_at_ratio_one_and_predictions_at_zero() {
    let pairs = [(vec![3, 4, 5], vec![6, 7, 8, 3]), (vec![5, 6], vec![4, 4])];
    let batch = PairBatch::new(&pairs, START, END, PAD);
    for backend in backends() {
        let device = backend.device();
        let model = tiny(CellKind::Gru, AttentionKind::Dot, &device);
        let mut rng = SplitMix64::new(0);
        let forced = model.forward(&batch, 1.0, &mut rng).unwrap();
        let free = model.forward(&batch, 0.0, &mut rng).unwrap();
        let [size, tgt_len, vocab] = forced.dims();

        // Ratio 1 is stepping the decoder on the reference inputs.
        let source = batch.source.ids_tensor(&device);
        let mut state = model.encode(source.clone(), &batch.source.lengths).unwrap();
        let target_in = batch.target_in.ids_tensor(&device);
        for t in 0..tgt_len {
            let tokens = target_in.clone().narrow(1, t, 1).reshape([size]);
            let (out, next) = StepDecoder::step(&model, tokens, state);
            let expected = burn::tensor::activation::log_softmax(
                forced.clone().narrow(1, t, 1).reshape([size, vocab]),
                1,
            );
            assert_close(
                &format!("{backend} step {t}"),
                &host(out.log_probs),
                &host(expected),
                1e-4,
            );
            state = next;
        }

        // Ratio 0 is greedy decoding: its argmaxes are the greedy tokens.
        let state = model.encode(source, &batch.source.lengths).unwrap();
        let decoded = greedy(&model, state, size, &SearchConfig::new(START, END, tgt_len));
        let argmax = free.argmax(2).reshape([size, tgt_len]).into_data();
        let argmax: Vec<i64> = argmax.convert::<i64>().try_into_vec().unwrap();
        for (b, hypothesis) in decoded.iter().enumerate() {
            let row: Vec<usize> = argmax[b * tgt_len..][..tgt_len]
                .iter()
                .map(|&v| v as usize)
                .collect();
            let expected: Vec<usize> = row.iter().copied().take_while(|&t| t != END).collect();
            assert_eq!(hypothesis.tokens, expected, "{backend} item {b}");
        }
    }
}

#[test]
fn configuration_errors_name_the_problem() {
    let device = backends()[0].device();
    let tied = Seq2SeqConfig::new(9, 9)
        .with_embedding(5)
        .with_hidden(3)
        .with_tie_embeddings(true)
        .init(&device);
    assert!(matches!(
        tied,
        Err(Seq2SeqError::TiedSize {
            embedding: 5,
            hidden: 6
        })
    ));
    let dot = Seq2SeqConfig::new(9, 9)
        .with_attention(AttentionKind::Dot)
        .with_tie_embeddings(true)
        .with_embedding(8)
        .with_hidden(4)
        .init(&device);
    assert!(
        dot.is_ok(),
        "the decoder is as wide as the bidirectional encoder"
    );
    let model = tiny(CellKind::Gru, AttentionKind::Additive, &device);
    let source = Tensor::<2, Int>::from_data(TensorData::new(vec![3i64, 0], [1, 2]), &device);
    assert!(matches!(
        model.encode(source, &[0]),
        Err(Seq2SeqError::EmptySource { index: 0 })
    ));
}

/// Trains a tiny model to reverse `pairs` and returns it.
fn train_reverse(
    device: &Device,
    pairs: &[(Vec<usize>, Vec<usize>)],
    steps: usize,
    tie: bool,
) -> Seq2Seq {
    let mut model = Seq2SeqConfig::new(9, 9)
        .with_embedding(16)
        .with_hidden(8)
        .with_tie_embeddings(tie)
        .init(device)
        .unwrap();
    let mut optimizer = AdamConfig::new()
        .with_grad_clipping(Some(GradientClippingConfig::Norm(1.0)))
        .init();
    let batch = PairBatch::new(pairs, START, END, PAD);
    let mut rng = SplitMix64::new(1);
    for _ in 0..steps {
        let logits = model.forward(&batch, 1.0, &mut rng).unwrap();
        let loss = model.loss(logits, &batch);
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optimizer.step(0.03, model, grads);
    }
    model
}

/// `count` random sequences of 1..=max_len tokens from 3..9 and their reversals.
fn reverse_task(count: usize, max_len: usize, seed: u64) -> Vec<(Vec<usize>, Vec<usize>)> {
    let mut rng = SplitMix64::new(seed);
    (0..count)
        .map(|_| {
            let len = 1 + rng.below(max_len);
            let source: Vec<usize> = (0..len).map(|_| 3 + rng.below(6)).collect();
            let target = source.iter().rev().copied().collect();
            (source, target)
        })
        .collect()
}

#[test]
fn a_tiny_model_learns_to_reverse_sequences() {
    for backend in backends() {
        // wgpu runs on a software driver here: a smaller task.
        let (count, steps, tie) = match backend {
            recur_train::Backend::Wgpu => (4, 60, true),
            _ => (24, 150, false),
        };
        let pairs = reverse_task(count, 4, 7);
        let model = train_reverse(&backend.autodiff_device(), &pairs, steps, tie).valid();
        let device = backend.device();
        let batch = PairBatch::new(&pairs, START, END, PAD);
        let state = model
            .encode(batch.source.ids_tensor(&device), &batch.source.lengths)
            .unwrap();
        let search = SearchConfig {
            beam_size: 3,
            ..SearchConfig::new(START, END, 8)
        };
        let beams = beam_search(&model, state.clone(), pairs.len(), &search);
        let greedy = greedy(&model, state, pairs.len(), &search);
        for (i, (_, target)) in pairs.iter().enumerate() {
            assert_eq!(&greedy[i].tokens, target, "{backend} greedy pair {i}");
            assert_eq!(&beams[i][0].tokens, target, "{backend} beam pair {i}");
            assert_eq!(beams[i][0].attention.len(), target.len());
        }
    }
}

#[test]
fn dropout_acts_in_training_only() {
    let pairs = [(vec![3, 4, 5], vec![6, 7, 8, 3]), (vec![5, 6], vec![4, 4])];
    let batch = PairBatch::new(&pairs, START, END, PAD);
    for backend in backends() {
        let device = backend.autodiff_device();
        device.seed(3);
        let model = Seq2SeqConfig::new(9, 9)
            .with_embedding(4)
            .with_hidden(3)
            .with_dropout(0.5)
            .init(&device)
            .unwrap();
        let mut rng = SplitMix64::new(0);
        let mut logits = |model: &Seq2Seq| host(model.forward(&batch, 1.0, &mut rng).unwrap());
        // Training draws new masks each pass; evaluation is deterministic and
        // equals the model without dropout.
        assert_ne!(logits(&model), logits(&model), "{backend}: training");
        let eval = model.valid();
        let first = logits(&eval);
        assert_eq!(first, logits(&eval), "{backend}: evaluation");
        let mut plain = eval.clone();
        plain.encoder.dropout = burn::nn::DropoutConfig::new(0.0).init();
        plain.decoder.dropout = burn::nn::DropoutConfig::new(0.0).init();
        assert_eq!(
            first,
            logits(&plain),
            "{backend}: evaluation without dropout"
        );
    }
}
