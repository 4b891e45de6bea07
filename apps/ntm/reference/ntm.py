"""PyTorch reference for ntm: the same Neural Turing Machine, data, batches,
optimiser and loss as the app's defaults, for `cargo xtask bench apps` (a
fixed number of steps: samples/s) and for convergence comparisons (bit errors
per sequence against sequences seen).

    python apps/ntm/reference/ntm.py --steps 50 --threads 2
    python apps/ntm/reference/ntm.py --task copy --sequences 50000 --report-every 1000 --threads 1

Model (the ntm app's defaults): an LSTM-cell controller of 100 units fed the
input and last step's read; one read and one write head from one linear
layer; a 128 x 20 memory starting from a learned matrix (`--memory-init
constant`: 1e-6 in every cell), batches of 4 sequences, both heads'
previous weighting one-hot on row 0, a zero first read and a zero controller
state; output logits from the controller output and this step's read.
Data: recur-ntm's generators with recur-data's SplitMix64, drawn per step
from `--seed` and the step number as ntm's `batch_rng`, so that with the
same seed this script trains on exactly the app's batches. Binary
cross-entropy on the answer steps, Adam (epsilon 1e-8; ntm's lr decay is 1,
so the rate is constant), the joint gradient norm clipped at `--clip`.
Prints a JSON line every `--report-every` sequences (training loss and bit
errors over the batches since the last report, like ntm's metrics.csv
train columns; validation on 64 sequences of the largest size drawn from
`--seed` + 1, like its valid columns), then a final JSON line.
"""

import argparse
import json
import math
import time

import numpy as np
import torch
import torch.nn.functional as F

GOLDEN = 0x9E3779B97F4A7C15
MASK = (1 << 64) - 1
# TaskConfig::paper: bits per vector, smallest and largest training size.
TASKS = {"copy": (8, 1, 20), "repeat-copy": (8, 1, 10), "recall": (6, 2, 6)}
MIN_REPEATS, MAX_REPEATS, ITEM_LENGTH = 1, 10, 3
VALID_SEQUENCES = 64
EPSILON = 1e-6  # recur-ntm's addressing::EPSILON (cosine norms, sharpening)


class SplitMix64:
    """recur-data's SplitMix64. It is counter-based (output k is a mix of
    seed + k * golden), so a block of draws is computed at once in numpy."""

    def __init__(self, seed):
        self.state = seed & MASK

    def take(self, n):
        k = np.arange(1, n + 1, dtype=np.uint64)
        z = np.uint64(self.state) + k * np.uint64(GOLDEN)  # wraps mod 2^64
        self.state = (self.state + n * GOLDEN) & MASK
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))

    def below(self, n):
        """Lemire's multiply-shift, as the Rust `below`."""
        return (int(self.take(1)[0]) * n) >> 64

    def bits(self, shape):
        """Fair coin flips as 0/1 floats: the top bit of each draw."""
        return (self.take(int(np.prod(shape))) >> np.uint64(63)).astype(np.float32).reshape(shape)


def build(task, batch, size, repeats, rng):
    """TaskConfig::build: (input [batch, time, in], target [batch, answer, out]),
    drawing from `rng` in the Rust order (sequence by sequence)."""
    bits = TASKS[task][0]
    if task == "copy":
        seq = rng.bits((batch, size, bits))
        x = np.zeros((batch, 2 * size + 1, bits + 1), np.float32)
        x[:, :size, :bits] = seq
        x[:, size, bits] = 1.0  # delimiter
        y = seq
    elif task == "repeat-copy":
        seq = rng.bits((batch, size, bits))
        answer = size * repeats + 1
        x = np.zeros((batch, size + 2 + answer, bits + 2), np.float32)
        x[:, :size, :bits] = seq
        x[:, size, bits] = 1.0
        x[:, size + 1, bits + 1] = repeats / MAX_REPEATS  # not the paper's normalisation: ntm's
        y = np.zeros((batch, answer, bits + 1), np.float32)
        y[:, :answer - 1, :bits] = np.tile(seq, (1, repeats, 1))
        y[:, answer - 1, bits] = 1.0  # end marker
    else:
        step = ITEM_LENGTH + 1
        x = np.zeros((batch, (size + 1) * step + 1 + ITEM_LENGTH, bits + 2), np.float32)
        y = np.zeros((batch, ITEM_LENGTH, bits), np.float32)
        for b in range(batch):
            items = rng.bits((size, ITEM_LENGTH, bits))
            query = rng.below(size - 1)
            for k in range(size):
                x[b, k * step, bits] = 1.0
                x[b, k * step + 1:(k + 1) * step, :bits] = items[k]
            start = size * step
            x[b, start, bits + 1] = 1.0
            x[b, start + 1:start + step, :bits] = items[query]
            x[b, start + step, bits + 1] = 1.0
            y[b] = items[query + 1]
    return torch.from_numpy(x), torch.from_numpy(y)


def sample(task, batch, seed, step):
    """Training batch `step` (from 0): ntm's batch_rng then TaskConfig::sample.
    The repeat count is drawn for every task, as in Rust."""
    rng = SplitMix64(seed ^ ((step + 1) * GOLDEN & MASK))
    _, low, high = TASKS[task]
    size = low + rng.below(high - low + 1)
    repeats = MIN_REPEATS + rng.below(MAX_REPEATS - MIN_REPEATS + 1)
    return build(task, batch, size, repeats, rng)


class Ntm(torch.nn.Module):
    def __init__(self, inputs, outputs, hidden=100, rows=128, width=20, shift_range=1, clip=20.0,
                 memory_init="learned"):
        super().__init__()
        self.rows, self.width, self.shift_range, self.clip = rows, width, shift_range, clip
        # MemoryInit::Learned: one [rows, width] start for every sequence,
        # U(+-1/sqrt(rows + width)); MemoryInit::Constant: every cell 1e-6.
        bound = 1.0 / math.sqrt(rows + width)
        self.learned_memory = (torch.nn.Parameter(torch.empty(rows, width).uniform_(-bound, bound))
                               if memory_init == "learned" else None)
        # PyTorch's LSTMCell init, U(+-1/sqrt(hidden)) for weights and both
        # biases, is recur-cells' Cell init; same gate order (i, f, g, o).
        self.controller = torch.nn.LSTMCell(inputs + width, hidden)
        # Per head: key, strength, gate, sharpening, shifts (recur-ntm's
        # order); read head first, then the write head's erase and add.
        # torch's Linear init U(+-1/sqrt(fan_in)) equals burn 0.22's default
        # KaimingUniform(gain 1/sqrt(3)) for weights and bias.
        self.per_head = width + 3 + 2 * shift_range + 1
        self.heads = torch.nn.Linear(hidden, 2 * self.per_head + 2 * width)
        self.output = torch.nn.Linear(hidden + width, outputs)

    def address(self, raw, memory, previous):
        """Eqs. (5)-(9) for both heads at once; raw [batch, 2, per_head]."""
        w = self.width
        key, offsets = raw[..., :w], raw[..., w + 3:]
        # Rust computes softplus as ln(1 + e^x) on clipped x: F.softplus's
        # threshold (20) is never crossed, so the two agree exactly.
        strength = F.softplus(raw[..., w:w + 1])
        gate = torch.sigmoid(raw[..., w + 1:w + 2])
        gamma = 1 + F.softplus(raw[..., w + 2:w + 3])
        shift = torch.softmax(offsets, -1)
        # Cosine similarity with EPSILON under each norm's square root.
        key_norm = (key.pow(2).sum(-1, keepdim=True) + EPSILON).sqrt()
        row_norm = (memory.pow(2).sum(-1) + EPSILON).sqrt().unsqueeze(1)
        similarity = key @ memory.transpose(1, 2) / (key_norm * row_norm)
        content = torch.softmax(strength * similarity, -1)
        gated = previous + gate * (content - previous)
        # Circular convolution: shift index k is offset d = k - r, and
        # w~(i) = sum_d w_g(i - d) s(d); roll(w, d)[i] = w[i - d].
        r = self.shift_range
        shifted = sum(torch.roll(gated, k - r, -1) * shift[..., k:k + 1] for k in range(2 * r + 1))
        # Sharpening as softmax(gamma ln(w + eps)), like recur-ntm.
        return torch.softmax(gamma * torch.log(shifted + EPSILON), -1)

    def forward(self, x):
        """Logits [batch, time, outputs] for inputs [batch, time, inputs]."""
        batch, time, _ = x.shape
        if self.learned_memory is None:
            memory = x.new_full((batch, self.rows, self.width), 1e-6)
        else:
            memory = self.learned_memory.expand(batch, self.rows, self.width)
        weights = x.new_zeros(batch, 2, self.rows)
        weights[:, :, 0] = 1.0
        read = x.new_zeros(batch, self.width)
        state = None  # LSTMCell: zero h and c
        logits = []
        for t in range(time):
            h, c = self.controller(torch.cat([x[:, t], read], 1), state)
            state = (h, c)
            # Raw head parameters clipped before their activations (NtmConfig
            # clip 20): no exponential overflows; no gradient beyond.
            raw = self.heads(h).clamp(-self.clip, self.clip)
            split = 2 * self.per_head
            weights = self.address(raw[:, :split].view(batch, 2, self.per_head), memory, weights)
            # Read on the memory before this step's write, as recur-ntm.
            read = (weights[:, :1] @ memory).squeeze(1)
            erase = torch.sigmoid(raw[:, split:split + self.width]).unsqueeze(1)
            add = torch.tanh(raw[:, split + self.width:]).unsqueeze(1)  # recur-ntm: tanh keeps memory bounded
            write = weights[:, 1].unsqueeze(2)
            memory = memory * (1 - write * erase) + write * add
            logits.append(self.output(torch.cat([h, read], 1)))
        return torch.stack(logits, 1)


def scores(model, x, y):
    """Mean binary cross-entropy (nats per bit) on the answer steps, and the
    wrong bits (logit thresholded at 0) summed over the batch."""
    logits = model(x)[:, -y.shape[1]:]
    loss = F.binary_cross_entropy_with_logits(logits, y)
    errors = ((logits > 0) != (y > 0.5)).sum().item()
    return loss, errors


def validate(model, task, seed):
    """report::measure: 64 sequences of the largest training size (and the
    most repeats), in batches of 16 from one SplitMix64(seed + 1)."""
    rng, loss, errors = SplitMix64(seed + 1), 0.0, 0
    with torch.no_grad():
        for _ in range(VALID_SEQUENCES // 16):
            x, y = build(task, 16, TASKS[task][2], MAX_REPEATS, rng)
            mean, wrong = scores(model, x, y)
            loss, errors = loss + mean.item() * 16, errors + wrong
    return loss / VALID_SEQUENCES, errors / VALID_SEQUENCES


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--task", choices=sorted(TASKS), default="copy")
    p.add_argument("--steps", type=int, default=0, help="stop after this many optimizer steps (0: use --sequences)")
    p.add_argument("--sequences", type=int, default=50000,
                   help="train until this many sequences are seen (default: ntm's 50 epochs of 250 batches of 4)")
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--memory-init", choices=["learned", "constant"], default="learned",
                   help="the memory's start, as ntm's --memory-init")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--clip", type=float, default=10.0, help="joint L2 norm of all gradients; 0: none")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--report-every", type=int, default=0, metavar="N",
                   help="print a JSON line every N sequences (0: only the final line)")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)

    bits = TASKS[a.task][0]
    inputs = bits + (1 if a.task == "copy" else 2)
    outputs = bits + (1 if a.task == "repeat-copy" else 0)
    model = Ntm(inputs, outputs, memory_init=a.memory_init)
    parameters = sum(p.numel() for p in model.parameters())
    optimiser = torch.optim.Adam(model.parameters(), lr=a.lr, eps=1e-8)
    steps, seen, loss_sum, seconds = 0, 0, 0.0, 0.0
    window = [0.0, 0, 0, 0]  # loss sum, steps, wrong bits, sequences since the last report
    start = time.perf_counter()
    while (steps < a.steps) if a.steps else (seen < a.sequences):
        x, y = sample(a.task, a.batch, a.seed, steps)
        loss, errors = scores(model, x, y)
        optimiser.zero_grad()
        loss.backward()
        if a.clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), a.clip)
        optimiser.step()
        steps, seen, loss_sum = steps + 1, seen + a.batch, loss_sum + loss.item()
        window = [window[0] + loss.item(), window[1] + 1, window[2] + errors, window[3] + a.batch]
        if a.report_every and seen // a.report_every > (seen - a.batch) // a.report_every:
            seconds += time.perf_counter() - start  # validation is not training time
            valid_loss, valid_errors = validate(model, a.task, a.seed)
            print(json.dumps({
                "sequences": seen,
                "steps": steps,
                "train_loss": window[0] / window[1],
                "train_bit_errors": window[2] / window[3],
                "valid_loss": valid_loss,
                "valid_bit_errors": valid_errors,
                "train_seconds": seconds,
            }), flush=True)
            window = [0.0, 0, 0, 0]
            start = time.perf_counter()
    seconds += time.perf_counter() - start
    print(json.dumps({
        "implementation": f"PyTorch {torch.__version__}",
        "task": a.task,
        "threads": a.threads,
        "steps": steps,
        "sequences": seen,
        "train_seconds": seconds,
        "sequences_per_second": seen / seconds,
        "parameters": parameters,
        "train_loss": loss_sum / max(steps, 1),
    }), flush=True)


if __name__ == "__main__":
    main()
