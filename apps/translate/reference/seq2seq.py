"""PyTorch reference for the translate app: the same architecture, data,
vocabulary, batching, optimiser and evaluation, in the spirit of the PyTorch
seq2seq tutorials, so that BLEU and training speed can be compared.

    /work/venv-torch/bin/python apps/translate/reference/seq2seq.py \
        --data datasets/de-en-short --epochs 10 --threads 2

Model (as recur-seq2seq's defaults): embedding 128, bidirectional GRU encoder
(128 per direction), decoder GRU of 256 with input feeding, additive
(Bahdanau) attention, attentional vector tanh(W_c [context; h]), output layer;
decoder initial state tanh(W [h_fwd; h_bwd] + b); dropout on the source and
target embeddings and on the attentional vector. Loss: cross-entropy averaged
over real target tokens (end token included). Adam, gradient-norm clipping,
learning rate decayed per epoch. The test uses the parameters of the epoch with
the highest validation BLEU (greedy). Words: lowercase runs of letters and digits, as
recur_data::tokenize, numbered as recur_data::WordVocab numbers them. BLEU:
sacrebleu's corpus BLEU on those words.

`--save-init FILE` writes the initial weights as safetensors for the translate
app's `--init`, so that both programs start from the same weights (with
`--epochs 0` it only writes them). `--save-tested FILE` writes the weights the
test uses, so that both programs' translations can be compared from the same
trained model.
"""

import argparse
import collections
import copy
import json
import math
import os
import random
import re
import time

import sacrebleu
import torch
import torch.nn as nn
import torch.nn.functional as F

PAD, START, END, UNK = 0, 1, 2, 3
SPECIALS = ["<pad>", "<start>", "<end>", "<unk>"]


def tokenize(text):
    return [w.lower() for w in re.findall(r"[^\W_]+", text)]


def read(path):
    pairs = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            source, target = line.rstrip("\n").split("\t")
            source, target = tokenize(source), tokenize(target)
            if source and target:
                pairs.append((source, target))
    return pairs


class Vocab:
    """Specials, then the words seen at least min_count times, most frequent
    first and alphabetical among equals: recur_data::WordVocab's ids, so that
    translate --init gives each word the same embedding rows here and there."""

    def __init__(self, sentences, min_count):
        counts = collections.Counter(w for s in sentences for w in s)
        kept = (w for w, c in counts.items() if c >= min_count and w not in SPECIALS)
        words = sorted(kept, key=lambda w: (-counts[w], w))
        self.words = SPECIALS + words
        self.index = {w: i for i, w in enumerate(self.words)}

    def encode(self, words):
        return [self.index.get(w, UNK) for w in words]

    def decode(self, ids):
        return [self.words[i] for i in ids]


class Seq2Seq(nn.Module):
    def __init__(self, source_vocab, target_vocab, embedding, hidden, dropout):
        super().__init__()
        d = 2 * hidden
        self.dropout = nn.Dropout(dropout)
        self.source_embedding = nn.Embedding(source_vocab, embedding)
        self.encoder = nn.GRU(embedding, hidden, batch_first=True, bidirectional=True)
        self.bridge = nn.Linear(d, d)
        self.target_embedding = nn.Embedding(target_vocab, embedding)
        self.cell = nn.GRUCell(embedding + d, d)
        self.att_query = nn.Linear(d, d, bias=False)
        self.att_key = nn.Linear(d, d)
        self.att_score = nn.Linear(d, 1, bias=False)
        self.combine = nn.Linear(2 * d, d, bias=False)
        self.output = nn.Linear(d, target_vocab)
        nn.init.zeros_(self.output.bias)

    def encode(self, source, lengths):
        embedded = self.dropout(self.source_embedding(source))
        packed = nn.utils.rnn.pack_padded_sequence(
            embedded, lengths.cpu(), batch_first=True, enforce_sorted=False
        )
        out, h = self.encoder(packed)
        out, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=source.shape[1])
        h = torch.tanh(self.bridge(torch.cat([h[0], h[1]], dim=1)))
        mask = torch.arange(source.shape[1])[None, :] < lengths[:, None]
        keys = self.att_key(out)
        feed = torch.zeros_like(h)
        return (h, feed, out, keys, mask)

    def step(self, tokens, state):
        h, feed, values, keys, mask = state
        h = self.cell(torch.cat([self.dropout(self.target_embedding(tokens)), feed], dim=1), h)
        scores = self.att_score(torch.tanh(keys + self.att_query(h)[:, None, :])).squeeze(2)
        weights = torch.softmax(scores.masked_fill(~mask, -1e9), dim=1)
        context = torch.bmm(weights[:, None, :], values).squeeze(1)
        feed = self.dropout(torch.tanh(self.combine(torch.cat([context, h], dim=1))))
        return self.output(feed), (h, feed, values, keys, mask)

    def forward(self, source, lengths, target_in):
        state = self.encode(source, lengths)
        logits = []
        for t in range(target_in.shape[1]):
            out, state = self.step(target_in[:, t], state)
            logits.append(out)
        return torch.stack(logits, dim=1)


def pad(seqs):
    width = max(len(s) for s in seqs)
    return torch.tensor([s + [PAD] * (width - len(s)) for s in seqs]), torch.tensor([len(s) for s in seqs])


def batches(lengths, batch_size, rng, per_bucket=50):
    items = list(range(len(lengths)))
    rng.shuffle(items)
    out = []
    for i in range(0, len(items), batch_size * per_bucket):
        chunk = sorted(items[i : i + batch_size * per_bucket], key=lambda k: lengths[k])
        out.extend(chunk[j : j + batch_size] for j in range(0, len(chunk), batch_size))
    rng.shuffle(out)
    return out


def loss_of(model, pairs):
    source, lengths = pad([s for s, _ in pairs])
    target_in, _ = pad([[START] + t for _, t in pairs])
    target_out, _ = pad([t + [END] for _, t in pairs])
    logits = model(source, lengths, target_in)
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), target_out.reshape(-1), ignore_index=PAD)


@torch.no_grad()
def valid_loss_of(model, pairs):
    """Mean cross-entropy per target token (end tokens included), in batches of 64."""
    tokens = sum(len(t) + 1 for _, t in pairs)
    return sum(
        loss_of(model, pairs[i : i + 64]).item() * sum(len(t) + 1 for _, t in pairs[i : i + 64])
        for i in range(0, len(pairs), 64)
    ) / tokens


def penalty(length, alpha):
    return ((5 + length) / 6) ** alpha


@torch.no_grad()
def greedy(model, source_ids):
    source, lengths = pad([source_ids])
    state = model.encode(source, lengths)
    token, out = torch.tensor([START]), []
    for _ in range(2 * len(source_ids) + 5):
        logits, state = model.step(token, state)
        token = logits.argmax(1)
        if token.item() == END:
            break
        out.append(token.item())
    return out


@torch.no_grad()
def beam(model, source_ids, size, alpha):
    """Beam search as recur_seq2seq::search::beam_search (n-best 1)."""
    source, lengths = pad([source_ids])
    state = model.encode(source, lengths)
    max_len = 2 * len(source_ids) + 5
    alive = [([], 0.0)]
    finished = []  # (score, tokens)
    for step in range(max_len):
        tokens = torch.tensor([t[-1] if t else START for t, _ in alive])
        logits, state = model.step(tokens, state)
        logp = F.log_softmax(logits, dim=1)
        total = torch.tensor([lp for _, lp in alive])[:, None] + logp
        flat = total.reshape(-1)
        top = torch.topk(flat, min(2 * size, flat.numel()))
        vocab = logp.shape[1]
        new_alive, parents = [], []
        for rank, (value, index) in enumerate(zip(top.values.tolist(), top.indices.tolist())):
            row, token = divmod(index, vocab)
            if token == END:
                if rank < size:
                    tokens_so_far = alive[row][0]
                    finished.append((value / penalty(len(tokens_so_far) + 1, alpha), tokens_so_far))
            elif len(new_alive) < size:
                new_alive.append((alive[row][0] + [token], value))
                parents.append(row)
        finished.sort(key=lambda f: -f[0])
        finished = finished[:1]
        best_alive = max((lp for _, lp in new_alive), default=-math.inf)
        can_improve = not finished or best_alive / penalty(max_len, alpha) > finished[0][0]
        if step + 1 == max_len or not new_alive or not can_improve:
            if not finished:
                finished = [(lp / penalty(len(t), alpha), t) for t, lp in new_alive]
                finished.sort(key=lambda f: -f[0])
            break
        index = torch.tensor(parents)
        h, feed, values, keys, mask = state
        state = (h[index], feed[index], values[index], keys[index], mask[index])
        alive = new_alive
    return finished[0][1]


def train_step(model, optimizer, pairs, clip):
    loss = loss_of(model, pairs)
    optimizer.zero_grad()
    loss.backward()
    nn.utils.clip_grad_norm_(model.parameters(), clip)
    optimizer.step()
    return loss.item()


def benchmark(model, optimizer, train_ids, test_ids, test, target_vocab, lengths, rng, args):
    """`--steps`: the first epoch's first steps, timed, then beam search over
    the test split with its BLEU, timed, as the translate app times its test."""
    model.train()
    order = batches(lengths, args.batch, rng)[:args.steps]
    started, sentences = time.perf_counter(), 0
    for indices in order:
        train_step(model, optimizer, [train_ids[i] for i in indices], args.clip)
        sentences += len(indices)
    train_seconds = time.perf_counter() - started
    model.eval()
    started = time.perf_counter()
    hypotheses = [" ".join(target_vocab.decode(beam(model, s, args.beam, args.length_penalty))) for s, _ in test_ids]
    sacrebleu.corpus_bleu(hypotheses, [[" ".join(t) for _, t in test]])
    beam_seconds = time.perf_counter() - started
    print(json.dumps({
        "implementation": f"PyTorch {torch.__version__}",
        "threads": args.threads,
        "steps": len(order),
        "train_seconds": train_seconds,
        "sentences_per_second": sentences / train_seconds,
        "test_beam_sentences_per_second": len(test_ids) / beam_seconds,
    }), flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default="datasets/de-en-short")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--embedding", type=int, default=128)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--lr-decay", type=float, default=0.9)
    parser.add_argument("--clip", type=float, default=5.0)
    parser.add_argument("--min-count", type=int, default=1)
    parser.add_argument("--beam", type=int, default=5)
    parser.add_argument("--length-penalty", type=float, default=0.6)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--dropout", type=float, default=0.3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--steps", type=int, default=0,
                        help="benchmark: train this many steps of the first epoch, then time beam search "
                        "on the test split, print one JSON line and stop (for `cargo xtask bench apps`)")
    parser.add_argument("--save-init", metavar="FILE",
                        help="write the initial weights to FILE (safetensors) for translate's --init, with the "
                        "validation loss they give in its metadata (valid_loss)")
    parser.add_argument("--save-tested", metavar="FILE",
                        help="write the parameters the test uses (the best epoch's) to FILE (safetensors): "
                        "translate --init FILE --lr 0 then decodes with the same weights")
    parser.add_argument("--run-dir", help="write the test translations to RUN_DIR/samples/test-greedy.txt "
                        "and test-beam.txt, as the translate app does (for bleu_details.py)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)

    train, valid, test = (read(f"{args.data}/{name}.tsv") for name in ("train", "valid", "test"))
    source_vocab = Vocab([s for s, _ in train], args.min_count)
    target_vocab = Vocab([t for _, t in train], args.min_count)
    encode = lambda pairs: [(source_vocab.encode(s), target_vocab.encode(t)) for s, t in pairs]
    train_ids, valid_ids, test_ids = encode(train), encode(valid), encode(test)
    model = Seq2Seq(len(source_vocab.words), len(target_vocab.words), args.embedding, args.hidden, args.dropout)
    if args.save_init:
        from safetensors.torch import save_file

        model.eval()
        save_file(model.state_dict(), args.save_init, metadata={"valid_loss": repr(valid_loss_of(model, valid_ids))})
        if args.epochs == 0:
            return
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    lengths = [len(s) for s, _ in train_ids]
    if args.steps:
        return benchmark(model, optimizer, train_ids, test_ids, test, target_vocab, lengths, rng, args)
    speeds = []
    best = None  # (valid BLEU, epoch, parameters, valid loss): what the test evaluates
    valid_references = [" ".join(t) for _, t in valid]
    for epoch in range(1, args.epochs + 1):
        for group in optimizer.param_groups:
            group["lr"] = args.lr * args.lr_decay ** (epoch - 1)
        model.train()
        started, total = time.time(), 0.0
        order = batches(lengths, args.batch, rng)
        for indices in order:
            total += train_step(model, optimizer, [train_ids[i] for i in indices], args.clip)
        seconds = time.time() - started
        speeds.append(len(train_ids) / seconds)
        model.eval()
        valid_loss = valid_loss_of(model, valid_ids)
        hypotheses = [" ".join(target_vocab.decode(greedy(model, s))) for s, _ in valid_ids]
        valid_bleu = sacrebleu.corpus_bleu(hypotheses, [valid_references]).score
        print(
            f"epoch {epoch}: train loss {total / len(order):.4f}, valid loss {valid_loss:.4f} "
            f"(perplexity {math.exp(valid_loss):.2f}), valid BLEU {valid_bleu:.2f}, "
            f"{speeds[-1]:.1f} sentences/s",
            flush=True,
        )
        if best is None or valid_bleu > best[0]:
            best = (valid_bleu, epoch, copy.deepcopy(model.state_dict()), valid_loss)
    model.load_state_dict(best[2])
    if args.save_tested:
        from safetensors.torch import save_file

        save_file({k: v.contiguous() for k, v in best[2].items()}, args.save_tested)
    references = [" ".join(t) for _, t in test]
    results = {
        "valid_perplexity": math.exp(valid_loss),
        "best_epoch": best[1],
        "best_valid_bleu": best[0],
        "best_valid_perplexity": math.exp(best[3]),
        "train_sentences_per_second": speeds[-1],
    }
    for name, decode in [("greedy", greedy), ("beam", lambda m, s: beam(m, s, args.beam, args.length_penalty))]:
        hypotheses = [" ".join(target_vocab.decode(decode(model, s))) for s, _ in test_ids]
        results[f"test_bleu_{name}"] = sacrebleu.corpus_bleu(hypotheses, [references]).score
        if args.run_dir:
            os.makedirs(f"{args.run_dir}/samples", exist_ok=True)
            with open(f"{args.run_dir}/samples/test-{name}.txt", "w", encoding="utf-8") as f:
                f.writelines(h + "\n" for h in hypotheses)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
