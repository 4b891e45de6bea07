//! `recur_cells::additive_scores` computes what burn's composed ops compute
//! for `v · tanh(keys + query)`, with the same gradients, on every test
//! backend (on the CPU ones over host buffers, elsewhere through the
//! backend's ops).

use burn::tensor::Tensor;
use recur_cells::additive_scores;

use crate::common::{assert_close, backends, normal};

fn composed(keys: Tensor<3>, query: Tensor<2>, v: Tensor<1>) -> Tensor<2> {
    let [batch, source, hidden] = keys.dims();
    let t = (keys + query.unsqueeze_dim::<3>(1)).tanh();
    t.reshape([batch * source, hidden])
        .matmul(v.reshape([hidden, 1]))
        .reshape([batch, source])
}

#[test]
fn additive_scores_match_burns_ops_and_their_gradients() {
    for backend in backends() {
        let device = backend.autodiff_device();
        // A hidden size that is not a multiple of the eight lanes, so that
        // the vectorised sums' tails are covered.
        let [batch, source, hidden] = [3, 4, 19];
        let keys = normal::<3>([batch, source, hidden], 1, &device).require_grad();
        let query = normal::<2>([batch, hidden], 2, &device).require_grad();
        let v = normal::<1>([hidden], 3, &device).require_grad();
        // A weighted loss, so that every score has its own gradient.
        let weights = normal::<2>([batch, source], 4, &device);
        let loss = |scores: Tensor<2>| (scores * weights.clone()).sum();

        let ours = additive_scores(keys.clone(), query.clone(), v.clone());
        let theirs = composed(keys.clone(), query.clone(), v.clone());
        assert_close(&format!("{backend}: scores"), ours.clone(), theirs.clone());

        let (ours, theirs) = (loss(ours).backward(), loss(theirs).backward());
        let what = |name: &str| format!("{backend}: gradient of {name}");
        assert_close(
            &what("the keys"),
            keys.grad(&ours).unwrap(),
            keys.grad(&theirs).unwrap(),
        );
        assert_close(
            &what("the query"),
            query.grad(&ours).unwrap(),
            query.grad(&theirs).unwrap(),
        );
        assert_close(&what("v"), v.grad(&ours).unwrap(), v.grad(&theirs).unwrap());

        // Only v tracked (keys and query constants): its gradient alone.
        let (keys, query) = (keys.detach(), query.detach());
        let grads = loss(additive_scores(keys.clone(), query.clone(), v.clone())).backward();
        let expected = loss(composed(keys.clone(), query.clone(), v.clone())).backward();
        assert_close(
            &what("v alone"),
            v.grad(&grads).unwrap(),
            v.grad(&expected).unwrap(),
        );

        // Without autodiff (inference) too.
        let (keys, query, v) = (keys.inner(), query.inner(), v.inner());
        assert_close(
            &format!("{backend}: scores without autodiff"),
            additive_scores(keys.clone(), query.clone(), v.clone()),
            composed(keys, query, v),
        );
    }
}
