//! Read and write heads (section 3 of the paper): what the controller output
//! becomes for each head. All heads' parameters come out of one linear layer,
//! so adding heads adds columns, not operations.

use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::activation::{sigmoid, softmax};
use burn::tensor::{Device, Tensor};

use crate::addressing::AddressParams;

/// What the heads emit in one step.
#[derive(Debug, Clone)]
pub struct HeadOutputs {
    /// Addressing parameters of every head, read heads first then write
    /// heads: `[batch, read + write, ...]`.
    pub address: AddressParams,
    /// Erase vectors `e` of the write heads, in `[0, 1]`: `[batch, write, width]`.
    pub erase: Tensor<3>,
    /// Add vectors `a` of the write heads, in `[-1, 1]`: `[batch, write, width]`.
    pub add: Tensor<3>,
}

/// The read and write heads of an NTM: one linear map from the controller
/// output to every head's parameters.
#[derive(Module, Debug)]
pub struct Heads {
    /// Controller output to all heads' raw parameters.
    pub params: Linear,
    /// Number of read heads.
    pub read: usize,
    /// Number of write heads.
    pub write: usize,
    /// Memory width `M` (the key, erase and add length).
    pub width: usize,
    /// Shift range `r`: offsets `-r..=r`.
    pub shift_range: usize,
    /// Raw parameters are clipped to `[-clip, clip]` before their activations.
    pub clip: f32,
}

impl Heads {
    /// Heads reading from `controller` features; see [`Heads`] for the rest.
    pub fn new(
        controller: usize,
        read: usize,
        write: usize,
        width: usize,
        shift_range: usize,
        clip: f32,
        device: &Device,
    ) -> Self {
        let per_head = width + 3 + (2 * shift_range + 1);
        let outputs = (read + write) * per_head + write * 2 * width;
        Heads {
            params: LinearConfig::new(controller, outputs).init(device),
            read,
            write,
            width,
            shift_range,
            clip,
        }
    }

    /// The heads' parameters from the controller output `[batch, controller]`.
    ///
    /// Activations as in the paper: key as is, strength `softplus`, gate
    /// `sigmoid`, shift `softmax`, sharpening `1 + softplus`, erase `sigmoid`;
    /// the add vector gets `tanh` so memory stays bounded.
    pub fn forward(&self, controller: Tensor<2>) -> HeadOutputs {
        let [batch, _] = controller.dims();
        let (heads, width, offsets) =
            (self.read + self.write, self.width, 2 * self.shift_range + 1);
        let raw = self.params.forward(controller).clamp(-self.clip, self.clip);
        let per_head = width + 3 + offsets;
        let addressing = raw
            .clone()
            .narrow(1, 0, heads * per_head)
            .reshape([batch, heads, per_head]);
        let writing = raw
            .narrow(1, heads * per_head, self.write * 2 * width)
            .reshape([batch, self.write, 2 * width]);
        // softplus(x) = ln(1 + e^x); x is clipped, so e^x cannot overflow.
        let softplus = |x: Tensor<3>| x.exp().log1p();
        let field = |start: usize, len: usize| addressing.clone().narrow(2, start, len);
        HeadOutputs {
            address: AddressParams {
                key: field(0, width),
                strength: softplus(field(width, 1)),
                gate: sigmoid(field(width + 1, 1)),
                sharpening: softplus(field(width + 2, 1)) + 1.0,
                shift: softmax(field(width + 3, offsets), 2),
            },
            erase: sigmoid(writing.clone().narrow(2, 0, width)),
            add: writing.narrow(2, width, width).tanh(),
        }
    }
}
