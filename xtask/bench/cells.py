"""PyTorch reference for `cargo xtask bench cells`.

Times forward + backward of torch.nn.LSTM, torch.nn.GRU and torch.nn.RNN
(tanh; all batch-first) at the same sizes and thread count as the Rust
benchmark, and prints one JSON object per measurement, like the Rust side
does.

    python xtask/bench/cells.py --threads 2 --batch 32 --time 64 --input 256 --hidden 512
"""

import argparse
import json
import time

import torch


def main():
    p = argparse.ArgumentParser()
    for name, default in [("threads", 2), ("batch", 32), ("time", 64), ("input", 256),
                          ("hidden", 512), ("warmup", 2), ("iters", 10)]:
        p.add_argument("--" + name, type=int, default=default)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    for cell, module in [("lstm", torch.nn.LSTM), ("gru", torch.nn.GRU), ("rnn", torch.nn.RNN)]:
        rnn = module(a.input, a.hidden, batch_first=True)
        x = torch.randn(a.batch, a.time, a.input, requires_grad=True)
        times = []
        for i in range(a.warmup + a.iters):
            start = time.perf_counter()
            out, _ = rnn(x)
            out.sum().backward()
            elapsed = time.perf_counter() - start
            if i >= a.warmup:
                times.append(elapsed)
            rnn.zero_grad()
            x.grad = None
        times.sort()
        print(json.dumps({
            "implementation": f"PyTorch {torch.__version__}",
            "backend": f"cpu, {a.threads} threads",
            "cell": cell,
            "median_s": times[len(times) // 2],
            "min_s": times[0],
        }), flush=True)


if __name__ == "__main__":
    main()
