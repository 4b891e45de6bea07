//! [`additive_scores`]: Bahdanau's attention score as one fused operation.
//!
//! Composed from burn's ops, `v · tanh(keys + query)` evaluates the `tanh`
//! over `[batch, source, hidden]` at every decoder step with the C
//! library's scalar `tanhf` on the CPU backends, which took about a fifth
//! of the translate app's training time (`perf`, docs/RESULTS.md). Here the
//! CPU path runs one loop with recur-cells' vectorised `tanh`, and the
//! backward reuses the saved `tanh` values; on a GPU the same equations run
//! as the backend's ops.

use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, DType, Shape, TensorMetadata};
use burn::tensor::Tensor;

use crate::fused::{self, FusedOp};
use crate::host;

/// `scores[b, s] = Σ_h v[h] · tanh(keys[b, s, h] + query[b, h])`: the score
/// of additive attention (Bahdanau et al., 2015) for projected `keys`
/// `[batch, source, hidden]`, a projected `query` `[batch, hidden]` and the
/// score vector `v` `[hidden]`, giving `[batch, source]`.
///
/// The values are those of
/// `(keys + query.unsqueeze_dim(1)).tanh().matmul(v)` up to rounding, and
/// gradients flow to all three arguments. On the CPU backends it runs over
/// host buffers with a vectorised `tanh` (each call copies its operands),
/// on other devices through the backend's ops.
pub fn additive_scores(keys: Tensor<3>, query: Tensor<2>, v: Tensor<1>) -> Tensor<2> {
    let [batch, source, hidden] = keys.dims();
    assert_eq!(
        query.dims(),
        [batch, hidden],
        "additive_scores: query {:?} for keys {:?}",
        query.dims(),
        keys.dims()
    );
    assert_eq!(
        v.dims(),
        [hidden],
        "additive_scores: v {:?} for keys {:?}",
        v.dims(),
        keys.dims()
    );
    let [scores] = fused::apply(
        &AdditiveScores,
        [
            keys.into_dispatch(),
            query.into_dispatch(),
            v.into_dispatch(),
        ],
    );
    Tensor::<2>::from_dispatch(scores).reshape([batch, source])
}

/// The fused op: inputs keys, query and v, output the scores.
#[derive(Clone, Debug)]
struct AdditiveScores;

/// What the backward needs: `t = tanh(keys + query)` and `v`.
#[derive(Clone, Debug)]
enum Saved<B: Backend> {
    Host {
        t: Vec<f32>,
        v: Vec<f32>,
        /// `[batch, source, hidden]`.
        dims: [usize; 3],
        device: B::Device,
        dtype: DType,
    },
    Device {
        t: FloatTensor<B>,
        v: FloatTensor<B>,
    },
}

impl FusedOp<3, 1> for AdditiveScores {
    type State<B: Backend> = Saved<B>;

    fn forward<B: Backend>(
        &self,
        [keys, query, v]: [FloatTensor<B>; 3],
        needs: [bool; 3],
    ) -> ([FloatTensor<B>; 1], Option<Saved<B>>) {
        let shape = keys.shape();
        let dims = [shape[0], shape[1], shape[2]];
        let [batch, source, hidden] = dims;
        let device = keys.device();
        let keep = needs.iter().any(|&n| n);
        if !host::on_cpu::<B>(&device) {
            let query = B::float_reshape(query, Shape::new([batch, 1, hidden]));
            let t = B::float_tanh(B::float_add(keys, query));
            let rows = B::float_reshape(t.clone(), Shape::new([batch * source, hidden]));
            let column = B::float_reshape(v.clone(), Shape::new([hidden, 1]));
            let scores = B::float_matmul(rows, column);
            let scores = B::float_reshape(scores, Shape::new([batch, source]));
            return ([scores], keep.then_some(Saved::Device { t, v }));
        }
        let dtype = keys.dtype();
        let (mut t, query, v) = (
            host::values::<B>(keys),
            host::values::<B>(query),
            host::values::<B>(v),
        );
        let mut scores = host::zeros(batch * source);
        for (b, (rows, scores)) in t
            .chunks_exact_mut(source * hidden)
            .zip(scores.chunks_exact_mut(source))
            .enumerate()
        {
            let query = &query[b * hidden..][..hidden];
            for (row, score) in rows.chunks_exact_mut(hidden).zip(scores) {
                for (x, q) in row.iter_mut().zip(query) {
                    *x = host::tanh(*x + q);
                }
                *score = host::dot(row, &v);
            }
        }
        let scores = host::tensor::<B, 2>(scores, [batch, source], dtype, &device);
        let saved = keep.then(|| Saved::Host {
            t,
            v,
            dims,
            device,
            dtype,
        });
        ([scores], saved)
    }

    fn backward<B: Backend>(
        &self,
        saved: Saved<B>,
        [scores]: [Option<FloatTensor<B>>; 1],
        needs: [bool; 3],
    ) -> [Option<FloatTensor<B>>; 3] {
        let Some(d_scores) = scores else {
            return [None, None, None];
        };
        match saved {
            Saved::Device { t, v } => backward_device::<B>(t, v, d_scores, needs),
            Saved::Host {
                t,
                v,
                dims,
                device,
                dtype,
            } => {
                let d_scores = host::values::<B>(d_scores);
                let [d_keys, d_query, d_v] = backward_host(&t, &v, &d_scores, dims, needs);
                [
                    d_keys.map(|d| host::tensor::<B, 3>(d, dims, dtype, &device)),
                    d_query.map(|d| host::tensor::<B, 2>(d, [dims[0], dims[2]], dtype, &device)),
                    d_v.map(|d| host::tensor::<B, 1>(d, [dims[2]], dtype, &device)),
                ]
            }
        }
    }
}

/// The backward on the device: the gradients of keys, query and `v` from
/// those of the scores, as the backend's ops.
fn backward_device<B: Backend>(
    t: FloatTensor<B>,
    v: FloatTensor<B>,
    d_scores: FloatTensor<B>,
    needs: [bool; 3],
) -> [Option<FloatTensor<B>>; 3] {
    let [batch, source, hidden] = {
        let shape = t.shape();
        [shape[0], shape[1], shape[2]]
    };
    let d_v = needs[2].then(|| {
        // dv = tᵀ · dscores over all (batch, source) rows.
        let rows = B::float_reshape(t.clone(), Shape::new([batch * source, hidden]));
        let column = B::float_reshape(d_scores.clone(), Shape::new([batch * source, 1]));
        let d_v = B::float_matmul(B::float_transpose(rows), column);
        B::float_reshape(d_v, Shape::new([hidden]))
    });
    if !needs[0] && !needs[1] {
        return [None, None, d_v];
    }
    // d(keys + query) = dscores · v · (1 - t²).
    let g = B::float_reshape(d_scores, Shape::new([batch, source, 1]));
    let v = B::float_reshape(v, Shape::new([1, 1, hidden]));
    let dt = B::float_mul(g, v);
    let d_pre = B::float_sub(dt.clone(), B::float_mul(B::float_mul(dt, t.clone()), t));
    let d_query = needs[1].then(|| {
        let summed = B::float_sum_dim(d_pre.clone(), 1);
        B::float_reshape(summed, Shape::new([batch, hidden]))
    });
    [needs[0].then_some(d_pre), d_query, d_v]
}

/// The backward on the CPU, over the saved `t = tanh(keys + query)` and `v`:
/// the gradients of keys `[batch, source, hidden]`, query `[batch, hidden]`
/// and `v` `[hidden]` from those of the scores, where `needs` asks for them.
fn backward_host(
    t: &[f32],
    v: &[f32],
    d_scores: &[f32],
    [_, source, hidden]: [usize; 3],
    needs: [bool; 3],
) -> [Option<Vec<f32>>; 3] {
    let mut d_v = needs[2].then(|| host::zeros(hidden));
    // d(keys + query) = dscores · v · (1 - t²).
    let mut d_pre = (needs[0] || needs[1]).then(|| host::zeros(t.len()));
    for (index, (row, g)) in t.chunks_exact(hidden).zip(d_scores).enumerate() {
        if let Some(d_v) = &mut d_v {
            for (d, x) in d_v.iter_mut().zip(row) {
                *d += g * x;
            }
        }
        if let Some(d_pre) = &mut d_pre {
            let out = &mut d_pre[index * hidden..][..hidden];
            for ((d, x), w) in out.iter_mut().zip(row).zip(v) {
                *d = g * w * (1.0 - x * x);
            }
        }
    }
    // The query's gradient: each batch item's rows summed.
    let d_query = d_pre.as_ref().filter(|_| needs[1]).map(|d_pre| {
        d_pre
            .chunks_exact(source * hidden)
            .flat_map(|rows| host::column_sums(rows, hidden))
            .collect()
    });
    let d_keys = d_pre.filter(|_| needs[0]);
    [d_keys, d_query, d_v]
}
