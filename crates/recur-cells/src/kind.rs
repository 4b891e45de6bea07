//! [`CellKind`]: which recurrence a cell computes, and what follows from it
//! (gate count, cell state, PyTorch's name). Every other module reads it;
//! it reads none of them.

use serde::{Deserialize, Serialize};

/// The recurrence a [`Cell`](crate::Cell) computes.
///
/// Gate order and equations follow `torch.nn.RNN/LSTM/GRU`, so weights are
/// interchangeable with PyTorch's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CellKind {
    /// Elman RNN, `h' = tanh(W_ih x + b_ih + W_hh h + b_hh)`.
    RnnTanh,
    /// Elman RNN with ReLU, `h' = relu(W_ih x + b_ih + W_hh h + b_hh)`.
    RnnRelu,
    /// LSTM (Hochreiter & Schmidhuber, 1997) with gates in the order input,
    /// forget, cell, output: `c' = f*c + i*g`, `h' = o*tanh(c')`.
    Lstm,
    /// GRU (Cho et al., 2014) with gates in the order reset, update, new; the
    /// reset gate applies after the recurrent product, as in PyTorch:
    /// `n = tanh(W_in x + b_in + r*(W_hn h + b_hn))`, `h' = (1-z)*n + z*h`.
    Gru,
}

impl CellKind {
    /// Number of gates stacked in the fused weight matrices (1, 4 or 3).
    pub fn gates(self) -> usize {
        match self {
            CellKind::RnnTanh | CellKind::RnnRelu => 1,
            CellKind::Lstm => 4,
            CellKind::Gru => 3,
        }
    }

    /// Whether the cell carries a cell state `c` beside `h` (LSTM only).
    pub fn has_cell_state(self) -> bool {
        self == CellKind::Lstm
    }

    /// The name PyTorch gives this cell's `mode` (`RNN_TANH`, `LSTM`, ...).
    pub fn torch_mode(self) -> &'static str {
        match self {
            CellKind::RnnTanh => "RNN_TANH",
            CellKind::RnnRelu => "RNN_RELU",
            CellKind::Lstm => "LSTM",
            CellKind::Gru => "GRU",
        }
    }
}

impl std::fmt::Display for CellKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            CellKind::RnnTanh => "rnn-tanh",
            CellKind::RnnRelu => "rnn-relu",
            CellKind::Lstm => "lstm",
            CellKind::Gru => "gru",
        })
    }
}

impl std::str::FromStr for CellKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "rnn" | "rnn-tanh" | "rnn_tanh" => Ok(CellKind::RnnTanh),
            "rnn-relu" | "rnn_relu" => Ok(CellKind::RnnRelu),
            "lstm" => Ok(CellKind::Lstm),
            "gru" => Ok(CellKind::Gru),
            other => Err(format!(
                "unknown cell `{other}` (expected rnn, rnn-relu, lstm or gru)"
            )),
        }
    }
}
