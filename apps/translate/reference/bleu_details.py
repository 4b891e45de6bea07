"""sacrebleu's details (brevity penalty, length ratio, n-gram precisions) of a
translate run's test translations, for docs/RESULTS.md:

    python apps/translate/reference/bleu_details.py runs/translate/<timestamp> datasets/de-en-short

(or the `--run-dir` of apps/translate/reference/seq2seq.py for PyTorch's).

The references are the test split's English sides cut into words as
recur_data::tokenize does (lowercase runs of letters and digits), scored
with sacrebleu's defaults like the app, so the BLEU printed equals the
run's results.json. Needs `pip install sacrebleu`.
"""

import json
import re
import sys

import sacrebleu


def main():
    run, data = sys.argv[1], sys.argv[2]
    with open(f"{data}/test.tsv", encoding="utf-8") as f:
        references = [" ".join(re.findall(r"[^\W_]+", line.split("\t")[1].lower())) for line in f]
    try:
        with open(f"{run}/target_vocab.json", encoding="utf-8") as f:
            vocab = set(json.load(f)["words"])
        words = [w for r in references for w in r.split()]
        print(f"reference words outside the run's target vocabulary: "
              f"{100 * sum(w not in vocab for w in words) / len(words):.1f}%")
    except FileNotFoundError:  # PyTorch's --run-dir holds no vocabulary
        pass
    for kind in ["greedy", "beam"]:
        with open(f"{run}/samples/test-{kind}.txt", encoding="utf-8") as f:
            hypotheses = [line.rstrip("\n") for line in f]
        bleu = sacrebleu.corpus_bleu(hypotheses, [references])
        precisions = ", ".join(f"{p:.1f}" for p in bleu.precisions)
        words = [w for h in hypotheses for w in h.split()]
        unknown = words.count("<unk>") / max(len(words), 1)
        # The words are tokens already; sacrebleu's default 13a tokenizer
        # splits `<unk>` into the three tokens `<`, `unk`, `>`.
        as_words = sacrebleu.corpus_bleu(hypotheses, [references], tokenize="none")
        print(f"{kind}: BLEU {bleu.score:.2f}, brevity penalty {bleu.bp:.3f}, "
              f"length ratio {bleu.sys_len / bleu.ref_len:.3f}, precisions {precisions}; "
              f"<unk> {100 * unknown:.1f}% of the words; BLEU on the words as tokens "
              f"(tokenize='none') {as_words.score:.2f}, length ratio "
              f"{as_words.sys_len / as_words.ref_len:.3f}")


if __name__ == "__main__":
    main()
