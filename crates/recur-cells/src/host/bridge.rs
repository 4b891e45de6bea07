//! Between burn tensors and the `f32` buffers the CPU path computes on: the
//! recurrence, [`linear`](crate::linear) and
//! [`additive_scores`](crate::additive_scores) read their operands with
//! [`values`] and return their results with [`tensor`].

use std::any::Any;

use burn::backend::flex::FlexTensor;
#[allow(deprecated)] // burn-ndarray
use burn::backend::ndarray::NdArrayTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, DType, Shape};
use burn::tensor::{TensorData, read_sync};

/// A CPU tensor's values, as `f32` (the computation's precision whatever
/// the tensor's; results go back in the tensor's dtype).
pub(crate) fn values<B: Backend>(t: FloatTensor<B>) -> Vec<f32> {
    // burn-ndarray reads an array that is shared (a weight, an input also
    // used elsewhere) element by element: 66 of the LSTM benchmark's 274 ms
    // on ndarray. A contiguous one is one copy.
    #[allow(deprecated)] // burn-ndarray
    if let Some(NdArrayTensor::F32(storage)) = (&t as &dyn Any).downcast_ref::<NdArrayTensor>()
        && let Some(values) = storage.view().as_slice()
    {
        return values.to_vec();
    }
    // Through `TensorData` flex copies a shared tensor up to three times
    // (into its own buffer, into bytes, into the `Vec`): 2.5% of charlm's
    // training on the main thread. A contiguous one is one copy here too.
    if let Some(tensor) = (&t as &dyn Any).downcast_ref::<FlexTensor>()
        && let Some(values) = tensor.as_slice::<f32>()
    {
        return values.to_vec();
    }
    read_sync(B::float_into_data(t))
        .expect("reading a CPU tensor cannot fail")
        .convert::<f32>()
        .try_into_vec::<f32>()
        .expect("converted to f32")
}

/// Whether `device` is one of the CPU backends, whose tensors this module
/// computes on.
pub(crate) fn on_cpu<B: Backend>(device: &B::Device) -> bool {
    !B::name(device).starts_with("cubecl")
}

/// A tensor of `shape` and `dtype` from `values` on `device`.
pub(crate) fn tensor<B: Backend, const D: usize>(
    values: Vec<f32>,
    shape: [usize; D],
    dtype: DType,
    device: &B::Device,
) -> FloatTensor<B> {
    let data = TensorData::new(values, Shape::new(shape));
    let data = if dtype == DType::F32 {
        data
    } else {
        data.convert_dtype(dtype)
    };
    B::float_from_data(data, device)
}
