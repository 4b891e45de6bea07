//! Reading and writing PyTorch `nn.RNN/LSTM/GRU` weights as safetensors.
//!
//! PyTorch names the parameters of layer `k` `weight_ih_l{k}`, `weight_hh_l{k}`,
//! `bias_ih_l{k}` and `bias_hh_l{k}`, with the suffix `_reverse` for the
//! right-to-left direction, and stores weights as `[gates * hidden, in]`: the
//! transpose of [`Cell`](crate::Cell)'s layout. Save a module's weights in Python with
//! `safetensors.torch.save_file(rnn.state_dict(), "rnn.safetensors")`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use burn::module::Param;
use burn::tensor::{Tensor, TensorData};
use safetensors::tensor::{Dtype, SafeTensors, TensorView};

use crate::error::CellsError;
use crate::layer::Recurrent;

impl Recurrent {
    /// PyTorch's parameter names for the cell at `index`, in the order
    /// `weight_ih`, `weight_hh`, `bias_ih`, `bias_hh`.
    fn torch_names(&self, index: usize, prefix: &str) -> [String; 4] {
        let layer = index / self.directions();
        let reverse = if index % self.directions() == 1 {
            "_reverse"
        } else {
            ""
        };
        ["weight_ih", "weight_hh", "bias_ih", "bias_hh"]
            .map(|name| format!("{prefix}{name}_l{layer}{reverse}"))
    }

    /// Loads the weights of a PyTorch `nn.RNN/LSTM/GRU` state dict saved as
    /// safetensors. The layer must have been configured with the same cell,
    /// sizes, layer count, direction and bias setting; every tensor is checked
    /// against it and a missing or misshaped one is an error naming it.
    pub fn load_torch(self, path: impl AsRef<Path>) -> Result<Self, CellsError> {
        self.load_torch_prefixed(path, "")
    }

    /// Like [`Recurrent::load_torch`], for a layer stored inside a larger
    /// module: every name is looked up with `prefix` in front (for example
    /// `"encoder.rnn."`).
    pub fn load_torch_prefixed(
        mut self,
        path: impl AsRef<Path>,
        prefix: &str,
    ) -> Result<Self, CellsError> {
        let file = TorchTensors::open(path)?;
        for index in 0..self.cells.len() {
            let [w_ih, w_hh, b_ih, b_hh] = self.torch_names(index, prefix);
            let cell = &mut self.cells[index];
            cell.weight_ih = file.weight(&w_ih, &cell.weight_ih)?;
            cell.weight_hh = file.weight(&w_hh, &cell.weight_hh)?;
            if let Some(bias) = &cell.bias_ih {
                cell.bias_ih = Some(file.tensor(&b_ih, bias)?);
            }
            if let Some(bias) = &cell.bias_hh {
                cell.bias_hh = Some(file.tensor(&b_hh, bias)?);
            }
        }
        Ok(self)
    }

    /// Writes the weights under PyTorch's names and layout, so that
    /// `rnn.load_state_dict(safetensors.torch.load_file(path))` loads them
    /// into the equivalent `torch.nn` module. The file is written to a
    /// temporary name first and renamed, so an existing file is never left
    /// half-written.
    pub fn save_torch(&self, path: impl AsRef<Path>) -> Result<(), CellsError> {
        let path = path.as_ref();
        let mut tensors: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::new();
        for (index, cell) in self.cells.iter().enumerate() {
            let [w_ih, w_hh, b_ih, b_hh] = self.torch_names(index, "");
            tensors.push(to_bytes(w_ih, cell.weight_ih.val().transpose()));
            tensors.push(to_bytes(w_hh, cell.weight_hh.val().transpose()));
            if let Some(bias) = &cell.bias_ih {
                tensors.push(to_bytes(b_ih, bias.val()));
            }
            if let Some(bias) = &cell.bias_hh {
                tensors.push(to_bytes(b_hh, bias.val()));
            }
        }
        let views = tensors
            .iter()
            .map(|(name, shape, data)| {
                TensorView::new(Dtype::F32, shape.clone(), data).map(|view| (name.clone(), view))
            })
            .collect::<Result<Vec<_>, _>>()
            .and_then(|views| safetensors::serialize(views, Some(metadata(self))))
            .map_err(|e| CellsError::Format {
                path: path.to_path_buf(),
                message: e.to_string(),
            })?;
        recur_data::write_atomically(path, &views).map_err(|source| CellsError::Io {
            path: path.to_path_buf(),
            source,
        })
    }
}

/// Metadata PyTorch ignores but people reading the file appreciate.
fn metadata(layer: &Recurrent) -> HashMap<String, String> {
    HashMap::from([
        ("mode".to_string(), layer.kind().torch_mode().to_string()),
        ("input_size".to_string(), layer.input_size().to_string()),
        ("hidden_size".to_string(), layer.hidden_size().to_string()),
        ("num_layers".to_string(), layer.num_layers.to_string()),
        ("bidirectional".to_string(), layer.bidirectional.to_string()),
    ])
}

fn to_bytes<const D: usize>(name: String, tensor: Tensor<D>) -> (String, Vec<usize>, Vec<u8>) {
    let data = tensor.into_data().convert::<f32>();
    let shape = data.shape().to_vec();
    (name, shape, data.as_bytes().to_vec())
}

/// The tensors of a PyTorch state dict saved as safetensors
/// (`safetensors.torch.save_file(model.state_dict(), path)`), read into
/// parameters by name. Each read is checked against the parameter it
/// replaces, and a missing or misshaped tensor is an error naming the file
/// and the tensor. [`Recurrent::load_torch`] reads a recurrent layer's
/// tensors with it; a model around such layers reads the rest of its own
/// state dict the same way.
pub struct TorchTensors {
    path: PathBuf,
    bytes: Vec<u8>,
}

impl TorchTensors {
    /// Reads the file at `path` and checks that it is safetensors.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, CellsError> {
        let path = path.as_ref().to_path_buf();
        let bytes = std::fs::read(&path).map_err(|source| CellsError::Io {
            path: path.clone(),
            source,
        })?;
        let tensors = TorchTensors { path, bytes };
        tensors.file()?;
        Ok(tensors)
    }

    /// The parsed file. Parsing reads the header only, so it is done per
    /// read rather than kept (the parsed file borrows the bytes).
    fn file(&self) -> Result<SafeTensors<'_>, CellsError> {
        SafeTensors::deserialize(&self.bytes).map_err(|e| CellsError::Format {
            path: self.path.clone(),
            message: e.to_string(),
        })
    }

    /// A PyTorch weight `name` stored as `[out, in]` (`nn.Linear`, the
    /// recurrent weights), transposed into `current`'s `[in, out]` layout
    /// on `current`'s device.
    pub fn weight(
        &self,
        name: &str,
        current: &Param<Tensor<2>>,
    ) -> Result<Param<Tensor<2>>, CellsError> {
        let [input, width] = current.dims();
        let values = self.read(name, &[width, input])?;
        let device = current.device();
        let tensor = Tensor::<2>::from_data(TensorData::new(values, [width, input]), &device);
        Ok(Param::from_tensor(tensor.transpose()))
    }

    /// The tensor `name` in `current`'s own layout and shape (a bias, an
    /// `nn.Embedding` table), on `current`'s device.
    pub fn tensor<const D: usize>(
        &self,
        name: &str,
        current: &Param<Tensor<D>>,
    ) -> Result<Param<Tensor<D>>, CellsError> {
        let shape = current.dims();
        let values = self.read(name, &shape)?;
        Ok(Param::from_tensor(Tensor::from_data(
            TensorData::new(values, shape),
            &current.device(),
        )))
    }

    /// The values of tensor `name`, which must have `shape` and a float dtype.
    fn read(&self, name: &str, shape: &[usize]) -> Result<Vec<f32>, CellsError> {
        let file = self.file()?;
        let view = file.tensor(name).map_err(|_| CellsError::MissingTensor {
            path: self.path.clone(),
            name: name.to_string(),
        })?;
        let mismatch = || CellsError::TensorMismatch {
            path: self.path.clone(),
            name: name.to_string(),
            expected: format!("F32 {shape:?}"),
            found: format!("{:?} {:?}", view.dtype(), view.shape()),
        };
        if view.shape() != shape {
            return Err(mismatch());
        }
        let bytes = view.data();
        match view.dtype() {
            Dtype::F32 => Ok(bytes
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect()),
            Dtype::F64 => Ok(bytes
                .chunks_exact(8)
                .map(|b| {
                    let mut le = [0; 8];
                    le.copy_from_slice(b);
                    f64::from_le_bytes(le) as f32
                })
                .collect()),
            _ => Err(mismatch()),
        }
    }
}
