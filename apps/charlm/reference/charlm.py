"""PyTorch reference for charlm: the same model, data, batching, optimiser and
wall-clock budget, for the side-by-side in docs/RESULTS.md.

    python apps/charlm/reference/charlm.py --text datasets/cache/shakespeare/input.txt --minutes 7 --threads 2

Model: embedding (64) -> nn.LSTM (2 layers, 256 units, batch_first) -> linear.
Data: characters sorted into ids, the last 10% held out, the training stream
cut into 32 rows read in windows of 64 steps with the state carried (and
detached) across windows, exactly like recur-data's BpttWindows, the state
reset at each pass. Adam with learning rate 2e-3 times 0.95 per pass after the
first, gradient norm clipped at 5. Passes repeat until the budget is spent;
the validation loss is then computed the same way as charlm's. Prints one
JSON line. `--steps N` stops after N steps (a benchmark's fixed work);
`--passes N` after N passes, for a comparison at equal steps (charlm's
`metrics.csv` has the validation loss after each pass).
`--save-init FILE` writes the initial weights as safetensors, for charlm's
`--init FILE`: both programs then start from the same weights.
"""

import argparse
import json
import math
import time

import torch


def windows(tokens, batch, window):
    """Like recur-data's BpttWindows: `batch` rows of equal length, walked in
    windows; yields (input, target) of shape [batch, time]."""
    row_len = (len(tokens) - 1) // batch
    rows = torch.stack([tokens[b * row_len: b * row_len + row_len + 1] for b in range(batch)])
    for pos in range(0, row_len, window):
        t = min(window, row_len - pos)
        yield rows[:, pos:pos + t], rows[:, pos + 1:pos + t + 1]


class CharLm(torch.nn.Module):
    def __init__(self, vocab, embedding, hidden, layers):
        super().__init__()
        self.embedding = torch.nn.Embedding(vocab, embedding)
        self.rnn = torch.nn.LSTM(embedding, hidden, num_layers=layers, batch_first=True)
        self.output = torch.nn.Linear(hidden, vocab)

    def forward(self, ids, state=None):
        out, state = self.rnn(self.embedding(ids), state)
        return self.output(out), state


def evaluate(model, tokens, batch, window):
    rows = max(1, min(batch, (len(tokens) - 1) // window))
    total, count, state = 0.0, 0, None
    with torch.no_grad():
        for x, y in windows(tokens, rows, window):
            logits, state = model(x, state)
            loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
            total += loss.item() * y.numel()
            count += y.numel()
    return total / count


def train_step(model, optimiser, x, y, state, clip):
    """One window: returns the loss (a tensor) and the detached state."""
    logits, state = model(x, state)
    loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
    optimiser.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
    optimiser.step()
    return loss.detach(), tuple(s.detach() for s in state)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--text", required=True)
    p.add_argument("--minutes", type=float, required=True)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--window", type=int, default=64)
    p.add_argument("--embedding", type=int, default=64)
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--clip", type=float, default=5.0)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--steps", type=int, default=0,
                   help="stop after this many steps, within --minutes (0: no limit; for `cargo xtask bench apps`)")
    p.add_argument("--passes", type=int, default=0,
                   help="stop after this many passes over the training text, within --minutes (0: no limit)")
    p.add_argument("--save-init", metavar="FILE",
                   help="write the initial weights to FILE (safetensors), for charlm's --init")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)

    text = open(a.text, encoding="utf-8").read()
    chars = sorted(set(text))
    index = {c: i for i, c in enumerate(chars)}
    tokens = torch.tensor([index[c] for c in text], dtype=torch.long)
    split = int(len(tokens) * 0.9)
    train, valid = tokens[:split], tokens[split:]

    model = CharLm(len(chars), a.embedding, a.hidden, a.layers)
    if a.save_init:
        from safetensors.torch import save_file
        save_file(model.state_dict(), a.save_init)
    optimiser = torch.optim.Adam(model.parameters(), lr=a.lr)
    start, chars_seen, steps, passes = time.perf_counter(), 0, 0, 0
    loss_sum = torch.zeros(())
    while (time.perf_counter() - start <= a.minutes * 60 and (a.passes == 0 or passes < a.passes)
           and not steps == a.steps > 0):
        passes += 1
        for group in optimiser.param_groups:
            group["lr"] = a.lr * 0.95 ** (passes - 1)
        state = None
        for x, y in windows(train, a.batch, a.window):
            if time.perf_counter() - start > a.minutes * 60 or steps == a.steps > 0:
                break
            loss, state = train_step(model, optimiser, x, y, state, a.clip)
            steps, chars_seen, loss_sum = steps + 1, chars_seen + y.numel(), loss_sum + loss
    seconds = time.perf_counter() - start
    model.eval()
    valid_loss = evaluate(model, valid, a.batch, a.window)
    print(json.dumps({
        "implementation": f"PyTorch {torch.__version__}",
        "threads": a.threads,
        "steps": steps,
        "passes": passes,
        "train_seconds": seconds,
        "chars_per_second": chars_seen / seconds,
        "train_loss": loss_sum.item() / max(steps, 1),
        "valid_loss_nats": valid_loss,
        "valid_bits_per_char": valid_loss / math.log(2),
    }), flush=True)


if __name__ == "__main__":
    main()
