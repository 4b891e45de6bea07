"""PyTorch reference for caption: the same data, model, training step and beam
search as `caption train` with its defaults, for `cargo xtask bench apps`.

    python apps/caption/reference/caption.py --steps 50 --threads 2 [--beam-images 200 --beam 3]

Data: the real shapes set. shapes.rs is re-implemented below (same SplitMix64
stream, seed 7, f32 geometry): 2000 training, 200 validation, 200 test
pictures, 32x32 RGB, channels last, values pixel / 255 - 0.5, two captions
each (9 or 12 words). The vocabulary is built as WordVocab does (4 specials,
then words seen twice or more by count: 21 ids); captions are `<start> words
<end>` padded with <pad> to their batch's longest; batches are recur-data's
Batcher's (SplitMix64 shuffle of the 4000 training captions per epoch, 32
each). Only the initial weights differ (same distributions, torch's RNG).

Model (168,997 parameters at the defaults, as the Rust app counts):
- encoder: three blocks of 3x3 convolution (zero padding), ReLU, 2x2 max
  pooling; 8, 16, 32 channels: nn.Conv2d and F.max_pool2d, as a PyTorch
  user writes it (the Rust encoder computes the same function as 9 shifted
  copies and one linear map; written that way here, PyTorch was 1.1-1.6x
  slower). The 4x4x32 grid, flattened, gives the image embedding (linear,
  64).
- decoder: one nn.LSTMCell (128 units, b_ih and b_hh like Recur's cell); its
  first input is the image embedding, then the word embeddings (64), each
  joined by the context of additive attention (64 units) over the 16 grid
  cells queried with the previous hidden state; a linear layer to the
  vocabulary whose bias starts at the log unigram frequencies.
- step: teacher forcing, cross-entropy averaged over the real tokens (words
  and <end>), Adam (lr 3e-3, times 0.8 per epoch after the first; eps 1e-8),
  gradients clipped to joint norm 5.

`--steps` optimizer steps are timed after `--warmup` untimed ones;
captions_per_second counts captions trained on, the Rust app's `captions/s`.
`--beam-images N` then times beam search (width `--beam`, up to `--max-len`
words and <end>) of the first N test pictures (cycled past 200), 64 at a
time as the app, the way recur-seq2seq's search.rs does: every live
hypothesis of every picture in one decoder batch, the choices on the host
(numpy). Prints one JSON line.
"""

import argparse
import collections
import json
import time

import torch
import torch.nn.functional as F

PAD, START, END = 0, 1, 2
SPECIALS = ["<pad>", "<start>", "<end>", "<unk>"]
MASK64 = (1 << 64) - 1
EVAL_BATCH = 64  # pictures captioned together, as apps/caption/src/model.rs


class SplitMix64:
    """recur-data's generator, bit for bit."""

    def __init__(self, seed):
        self.state = seed & MASK64

    def next_u64(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK64
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
        return z ^ (z >> 31)

    def below(self, n):
        return (self.next_u64() * n) >> 64

    def shuffle(self, items):
        for i in range(len(items) - 1, 0, -1):
            j = self.below(i + 1)
            items[i], items[j] = items[j], items[i]


SHAPES = ["circle", "square", "triangle"]
COLOURS = [("red", (220, 40, 40)), ("green", (40, 190, 60)),
           ("blue", (60, 90, 240)), ("yellow", (235, 215, 40))]
SIZES = [("small", 0.12), ("large", 0.22)]
HELD_OUT = {("red", "triangle"), ("green", "circle"), ("blue", "square")}


def f32(value):
    return torch.tensor(value, dtype=torch.float32)


def shapes(train, valid, test, side=32, seed=7):
    """shapes.rs's generate: (pictures [n, side*side*3], captions per picture,
    split per picture)."""
    rng = SplitMix64(seed)
    shape = lambda: (rng.below(3), rng.below(4), rng.below(2))  # shape, colour, size
    coords = torch.arange(side, dtype=torch.float32) + 0.5
    pictures, captions, splits = [], [], []
    for split, count in [("train", train), ("val", valid), ("test", test)]:
        for _ in range(count):
            while True:  # two shapes differing in shape or colour, then the relation
                first, second = shape(), shape()
                while second[:2] == first[:2]:
                    second = shape()
                above = rng.below(2) == 0
                held = any((COLOURS[c][0], SHAPES[s]) in HELD_OUT for s, c, _ in (first, second))
                if held == (split == "test"):
                    break
            rgb = torch.full((side, side, 3), 24, dtype=torch.uint8)
            for half, (s, c, z) in enumerate((first, second)):
                radius = torch.clamp(f32(SIZES[z][1]) * side, min=1.0)
                along = place(rng, radius, f32(side / 2)) + half * f32(side / 2)
                across = place(rng, radius, f32(side))
                cx, cy = (across, along) if above else (along, across)
                dx, dy = (coords - cx)[None, :], (coords - cy)[:, None]
                if SHAPES[s] == "circle":
                    inside = dx * dx + dy * dy <= radius * radius
                elif SHAPES[s] == "square":
                    inside = (dx.abs() <= 0.85 * radius) & (dy.abs() <= 0.85 * radius)
                else:  # triangle, apex up
                    inside = (dy.abs() <= radius) & (dx.abs() <= (dy + radius) / 2)
                rgb[inside] = torch.tensor(COLOURS[c][1], dtype=torch.uint8)
            pictures.append(rgb.reshape(-1).float() / 255 - 0.5)
            a, b = (" ".join((SIZES[z][0], COLOURS[c][0], SHAPES[s])) for s, c, z in (first, second))
            there, back = ("above", "below") if above else ("to the left of", "to the right of")
            captions.append([f"a {a} {there} a {b}", f"a {b} {back} a {a}"])
            splits.append(split)
    return torch.stack(pictures), captions, splits


def place(rng, radius, extent):
    """A centre in [radius, extent - radius], in f32 as shapes.rs."""
    room = torch.clamp(extent - 2 * radius, min=0.0)
    return radius + f32(rng.next_u64() >> 11) / f32(2.0 ** 53) * room


class Encoder(torch.nn.Module):
    def __init__(self, side, channels, embedding):
        super().__init__()
        widths = [3, channels, 2 * channels, 4 * channels]
        self.convs = torch.nn.ModuleList(
            torch.nn.Conv2d(widths[k], widths[k + 1], 3, padding=1) for k in range(3))
        self.embedding = torch.nn.Linear((side // 8) ** 2 * widths[3], embedding)
        self.side = side

    def forward(self, pixels):
        b = pixels.shape[0]
        x = pixels.reshape(b, self.side, self.side, 3).permute(0, 3, 1, 2)
        for conv in self.convs:
            x = F.max_pool2d(torch.relu(conv(x)), 2)
        grid = x.flatten(2).transpose(1, 2)  # [b, 16 cells, channels]
        return self.embedding(x.reshape(b, -1)), grid


class Decoder(torch.nn.Module):
    def __init__(self, vocab, embedding, hidden, channels, attention_hidden, bias):
        super().__init__()
        self.embedding = torch.nn.Embedding(vocab, embedding)
        self.cell = torch.nn.LSTMCell(embedding + channels, hidden)
        self.output = torch.nn.Linear(hidden, vocab)
        with torch.no_grad():
            self.output.bias.copy_(bias)
        self.query = torch.nn.Linear(hidden, attention_hidden, bias=False)
        self.key = torch.nn.Linear(channels, attention_hidden)
        self.score = torch.nn.Linear(attention_hidden, 1, bias=False)

    def start(self, image, grid):
        """The state after the first step, whose input is the image embedding."""
        zeros = image.new_zeros(image.shape[0], self.cell.hidden_size)
        return self.advance(image, (zeros, zeros, grid, self.key(grid)))

    def advance(self, x, state):
        h, c, grid, keys = state
        scores = self.score(torch.tanh(keys + self.query(h).unsqueeze(1))).squeeze(2)
        context = torch.bmm(torch.softmax(scores, 1).unsqueeze(1), grid).squeeze(1)
        h, c = self.cell(torch.cat([x, context], 1), (h, c))
        return h, c, grid, keys

    def forward(self, image, grid, tokens):
        """Teacher forcing: logits [batch, time, vocab] after each token."""
        words, state, hidden = self.embedding(tokens), self.start(image, grid), []
        for t in range(tokens.shape[1]):
            state = self.advance(words[:, t], state)
            hidden.append(state[0])
        return self.output(torch.stack(hidden, 1))

    def step(self, tokens, state):
        state = self.advance(self.embedding(tokens), state)
        return torch.log_softmax(self.output(state[0]), 1), state


def beam_search(decoder, image, grid, beam, max_steps):
    """search.rs's beam_search with n_best 1 and no length penalty (the app's
    settings), so a hypothesis scores its log-probability. Returns the best
    token list per picture."""
    state = decoder.start(image, grid)
    alive = [[([], 0.0)] for _ in range(image.shape[0])]  # (tokens, log_prob)
    best = [None] * len(alive)  # the best finished (log_prob, tokens)
    live = list(range(len(alive)))
    for step in range(max_steps):
        tokens = [p[0][-1] if p[0] else START for i in live for p in alive[i]]
        log_probs, state = decoder.step(torch.tensor(tokens), state)
        host = log_probs.numpy()
        parents, still, row = [], [], 0
        for i in live:
            rows = len(alive[i])
            scores = host[row:row + rows] + [[p[1]] for p in alive[i]]
            # The 2 * beam best continuations, ties to the lower row, token.
            order = (-scores).reshape(-1).argsort(kind="stable")[:2 * beam]
            kept = []
            for rank, k in enumerate(order.tolist()):
                r, token = divmod(k, scores.shape[1])
                score, words = float(scores.flat[k]), alive[i][r][0]
                if token == END:
                    if rank < beam and (best[i] is None or score > best[i][0]):
                        best[i] = (score, words)
                elif len(kept) < beam:
                    kept.append((words + [token], score))
                    parents.append(row + r)
            row += rows
            top = max((p[1] for p in kept), default=float("-inf"))
            if step + 1 == max_steps or not kept or (best[i] is not None and top <= best[i][0]):
                del parents[len(parents) - len(kept):]
                if best[i] is None:  # unfinished: the best live hypothesis
                    best[i] = max(((p[1], p[0]) for p in kept), key=lambda q: q[0], default=(0.0, []))
            else:
                alive[i] = kept
                still.append(i)
        live = still
        if not parents:
            break
        index = torch.tensor(parents)
        state = tuple(s.index_select(0, index) for s in state)
    return [words for _, words in best]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=50, help="timed optimizer steps")
    p.add_argument("--warmup", type=int, default=0, help="untimed optimizer steps before")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--embedding", type=int, default=64)
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--channels", type=int, default=8)
    p.add_argument("--attention-hidden", type=int, default=64)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--lr-decay", type=float, default=0.8)
    p.add_argument("--clip", type=float, default=5.0)
    p.add_argument("--beam-images", type=int, default=0, help="test pictures to caption by beam search (0: none)")
    p.add_argument("--beam", type=int, default=3)
    p.add_argument("--max-len", type=int, default=20, help="longest caption generated, in words")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)

    pictures, captions, splits = shapes(2000, 200, 200)
    train = [(i, c.split()) for i, s in enumerate(splits) if s == "train" for c in captions[i]]
    counts = collections.Counter(w for _, words in train for w in words)
    kept = sorted((w for w in counts if counts[w] >= 2), key=lambda w: (-counts[w], w))
    index = {w: k for k, w in enumerate(SPECIALS + kept)}
    frequency = torch.tensor([0, len(train), len(train), 0] + [counts[w] for w in kept], dtype=torch.float64)
    frequency = (frequency / frequency.sum()).clamp(min=1e-10).log()
    bias = (frequency - frequency.max()).float()  # recur-data's log_frequency_bias
    encoded = [torch.tensor([START] + [index.get(w, 3) for w in words] + [END]) for _, words in train]
    lengths = torch.tensor([len(e) for e in encoded])
    ids = torch.nn.utils.rnn.pad_sequence(encoded, batch_first=True, padding_value=PAD)
    images = torch.tensor([i for i, _ in train])

    side = 32
    encoder = Encoder(side, a.channels, a.embedding)
    decoder = Decoder(len(index), a.embedding, a.hidden, 4 * a.channels, a.attention_hidden, bias)
    params = list(encoder.parameters()) + list(decoder.parameters())
    optimiser = torch.optim.Adam(params, lr=a.lr, eps=1e-8)

    def batches():
        """recur-data's Batcher: epoch e shuffles from seed ^ e * constant."""
        epoch = 0
        while True:
            epoch += 1
            for group in optimiser.param_groups:
                group["lr"] = a.lr * a.lr_decay ** (epoch - 1)
            order = list(range(len(encoded)))
            SplitMix64(a.seed ^ (epoch * 0xD1B54A32D192ED03)).shuffle(order)
            for k in range(0, len(order), a.batch):
                yield torch.tensor(order[k:k + a.batch])

    def train_step(rows):
        tokens = ids[rows, :int(lengths[rows].max())]
        logits = decoder(*encoder(pictures[images[rows]]), tokens[:, :-1])
        # Mean over the real targets: padding (and only padding) is <pad>.
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[2]), tokens[:, 1:].reshape(-1), ignore_index=PAD)
        optimiser.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, a.clip)
        optimiser.step()
        return loss.item()  # read every step, as the Rust loop does

    stream = batches()
    for _ in range(a.warmup):
        train_step(next(stream))
    start, seen, loss_sum = time.perf_counter(), 0, 0.0
    for _ in range(a.steps):
        rows = next(stream)
        loss_sum += train_step(rows)
        seen += len(rows)
    seconds = time.perf_counter() - start
    result = {
        "implementation": f"PyTorch {torch.__version__}",
        "threads": a.threads,
        "steps": a.steps,
        "train_seconds": seconds,
        "captions_per_second": seen / seconds,
        "parameters": sum(q.numel() for q in params),
        "train_loss": loss_sum / max(a.steps, 1),  # mean over the timed steps
    }
    if a.beam_images > 0:
        test = [i for i, s in enumerate(splits) if s == "test"]
        chosen = [test[k % len(test)] for k in range(a.beam_images)]
        start = time.perf_counter()
        with torch.no_grad():
            for k in range(0, len(chosen), EVAL_BATCH):
                image, grid = encoder(pictures[chosen[k:k + EVAL_BATCH]])
                # max_len words and the end token, as model.rs's search().
                beam_search(decoder, image, grid, a.beam, a.max_len + 1)
        result["test_beam_images_per_second"] = len(chosen) / (time.perf_counter() - start)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
