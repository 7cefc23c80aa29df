"""Every rule a hidden test checks is written in the exercise (issue #14).

RULES lists, for each graded cell of each English solution notebook, the rules its hidden cases assert (read from the
checker in mtbert_ref/grading/<module>.py: dtype, device, shape edge cases, empty input, tie-breaking, zero sizes,
bias combinations, ...) and, for each rule, a regular expression that must match the exercise's text: the markdown
cells after the previous graded cell up to this test cell, plus the visible part of the test cell (a rule that the
visible test exercises is stated by it). Whitespace is collapsed and case ignored, so line wrapping does not matter.

When you add a hidden case to a checker, add its rule here and write it into the spec (docs/AUTHORING.md, "Before a
notebook is done"). The test fails when a spec loses a rule, when a graded cell has no entry, or when an entry names
a cell that does not exist.
"""
from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]

FMT_CHOICE = [("the answer is one letter, as a string; the visible test checks only the format", r"letter.*string")]
FMT = [("the answer's type (an int, a float or a tuple of ints); the visible test checks only the format",
        r"(python int|a float|tuple of ints).*checks only")]

RULES: dict[tuple[str, str], list[tuple[str, str]]] = {
    # ------------------------------------------------------------------ 00 anatomy.py
    ("00_bert_anatomy", "test_masked_mean_pool"): [
        ("the mask may be long, int32 or bool", r"torch\.long`, `torch\.int32` or `torch\.bool"),
        ("same dtype and device as last_hidden_state", r"same dtype and device as `last_hidden_state`"),
        ("float64 hidden states", r"float64 hidden states"),
        ("a batch of one sentence of one token", r"one sentence of one token"),
        ("an all-zero mask row gives zeros, not NaN", r"all zeros must give a row of zeros, not nan"),
        ("inputs not modified", r"do not modify the inputs")],
    ("00_bert_anatomy", "test_count_parameters"): [
        ("a Python int", r"python `int`"),
        ("trainable_only counts requires_grad parameters only", r"trainable_only=true.*requires_grad=true"),
        ("a tied parameter counts once", r"\(tied\) must count once")],
    ("00_bert_anatomy", "test_head_parameters"): [
        ("an int, for any BertFor* model", r"`bertfor\*` model, return the number of parameters \(an `int`\)"),
        ("the tied decoder weight is not a head parameter", r"not a head parameter"),
        ("compare by identity", r"by identity")],
    ("00_bert_anatomy", "test_concept_hidden_states_shape"): FMT,
    # ------------------------------------------------------------------ 01 masked_lm.py
    ("01_masked_lm", "test_mlm_head"): [
        ("activation from config.hidden_act (relu in a hidden case)", r"ACT2FN\[config\.hidden_act\].*\"relu\""),
        ("LayerNorm eps from the config", r"eps=config\.layer_norm_eps.*another `layer_norm_eps`"),
        ("the decoder is tied: the Parameter itself", r"assign the parameter itself"),
        ("no second bias in the decoder", r"bias=False"),
        ("masked layout: rows in row-major order, (n_masked, vocab)", r"row-major order.*\(n_masked, vocab\)"),
        ("float64 as well as float32", r"\*\*float64\*\* as well as float32"),
        ("a gradient reaches word_embeddings.weight", r"gradient to `word_embeddings\.weight`")],
    ("01_masked_lm", "test_mask_tokens"): [
        ("input_ids not modified", r"do not modify it"),
        ("special tokens and padding never chosen", r"those are never chosen"),
        ("80% [MASK], 10% random in [0, vocab_size), 10% unchanged", r"80% .* 10% .*\[0, vocab_size\).* 10% unchanged"),
        ("every draw from generator, same seed same result", r"every random draw uses `generator`.*same seed"),
        ("int64 outputs on the device of input_ids", r"both int64 \(batch, seq\) on the device of `input_ids`"),
        ("labels: original id where chosen, -100 elsewhere", r"\*\*original\*\* id at chosen positions and `-100`"),
        ("other mlm_probability values", r"other values of `mlm_probability`"),
        ("a row of only special tokens stays unchanged", r"only of special tokens and padding gets no label"),
        ("mlm_probability=0 chooses nothing", r"`mlm_probability=0` chooses nothing")],
    ("01_masked_lm", "test_mlm_loss"): [
        ("full and masked layouts", r"\*\*full\*\*.*\*\*masked\*\*"),
        ("1-D labels used as they are", r"1-d `labels` of length n_masked"),
        ("the loss keeps the logits' dtype (float64 in, float64 out)", r"in the dtype of `logits`\*\* \(float64"),
        ("the loss keeps its gradient", r"keeps its gradient"),
        ("no labelled position: 0, not NaN", r"when no position is labelled, return 0")],
    ("01_masked_lm", "test_concept_gradient_positions"): FMT_CHOICE,
    # ------------------------------------------------------------------ 02 pretraining.py
    ("02_nsp_pretraining_clm", "test_nsp_head"): [
        ("one Linear(hidden, 2) named seq_relationship, with bias", r"seq_relationship = nn\.linear\(config\.hidden_size, 2\)`.*with bias"),
        ("raw logits (batch, 2), same dtype; column 0 IsNext", r"raw \*\*logits\*\*, shape `\(batch, 2\)`, same dtype: column 0"),
        ("other hidden sizes", r"other hidden sizes"),
        ("inside a model: equal to BertForNextSentencePrediction", r"inside a whole tiny bert.*bertfornextsentenceprediction")],
    ("02_nsp_pretraining_clm", "test_make_nsp_pairs"): [
        ("skip empty sentences; documents not modified", r"skip empty sentences\. do \*\*not\*\* modify `documents`"),
        ("keys, lists of Python ints, labels 0/1", r"lists of python ints.*the int 0 for isnext or 1 for notnext"),
        ("every random decision from random.Random(seed)", r"\*\*every\*\* random decision from `rng = random\.random\(seed\)`"),
        ("NotNext: B from another document with sentences", r"different document than a \(and from one that has sentences\)"),
        ("truncate the longer segment, B when equal; A from its start, B from its end",
         r"\*longer\* segment \(from b when they are equal\).*a's tokens from its \*\*start\*\* and b's from its \*\*end\*\*"),
        ("token_type_ids 0 for [CLS] A [SEP], 1 for B [SEP]", r"`token_type_ids` are 0 for `\[cls\] a \[sep\]`"),
        ("the walk continues at sentence i + k", r"continue at sentence `i \+ k`"),
        ("max_length down to 7 keeps both segments", r"down to 7.*at least one token of each segment"),
        ("another seed gives other pairs", r"different seed must give different pairs"),
        ("about 50/50", r"about 50/50")],
    ("02_nsp_pretraining_clm", "test_pretraining_loss"): [
        ("a scalar in the dtype of the logits", r"\*\*scalar\*\* tensor \(shape `\(\)`\) in the dtype of the logits"),
        ("MLM mean over labels != -100, NSP mean over the batch", r"mean over positions whose label is not -100"),
        ("a batch of one pair, mostly masked batches, float64", r"batch of one pair.*most positions are masked.*float64")],
    ("02_nsp_pretraining_clm", "test_causal_mask"): [
        ("shape (batch, 1, seq, seq), dtype, device of the mask", r"\(batch, 1, seq, seq\)` and dtype `dtype`, on the device"),
        ("integer or bool masks (int32, bool)", r"any integer dtype, or bool.*bool and int32 masks"),
        ("padding keys (columns), not queries", r"padding \*\*keys\*\* \(columns\)"),
        ("finfo(dtype).min, not -inf", r"`torch\.finfo\(dtype\)\.min`, not `-inf`"),
        ("seq = 1, left padding, float16, bfloat16, float64", r"`seq = 1`, left-padded rows.*float16, bfloat16 and float64")],
    ("02_nsp_pretraining_clm", "test_concept_causal_allowed"): FMT,
    ("02_nsp_pretraining_clm", "test_shift_labels"): [
        ("a new tensor of the same shape and dtype", r"\*\*new\*\* tensor of the same shape and dtype"),
        ("the last position is -100", r"`out\[:, -1\] = -100`"),
        ("labels not modified", r"do not modify `labels` in place"),
        ("seq = 1 gives all -100", r"`seq = 1` the result is all -100")],
    # ------------------------------------------------------------------ 03 qa.py
    ("03_extractive_qa", "test_qa_head"): [
        ("one layer qa_outputs = Linear(hidden, 2)", r"exactly one layer named \*\*`qa_outputs`\*\*"),
        ("positions (batch,) or (batch, 1)", r"positions `\(batch,\)` or `\(batch, 1\)`"),
        ("clamp to [0, seq], ignore_index=seq, mean of the two", r"clamp them to `\[0, seq\]`.*ignore_index=seq.*\(start_loss \+ end_loss\) / 2"),
        ("loss None unless both positions are given", r"`none` unless both positions are given"),
        ("one window of one token; float64 keeps its dtype", r"one window of one token.*float64 inputs")],
    ("03_extractive_qa", "test_prepare_features"): [
        ("one entry per window, in the tokenizer's order", r"one entry per window\*\*, windows in the tokenizer's order"),
        ("offsets None for question and special tokens", r"`none` for question and special tokens"),
        ("the first gold answer; last start <= a_start, first end >= a_end", r"\*\*first\*\* gold answer.*\*\*last\*\* context token whose start offset.*\*\*first\*\* context token whose end offset"),
        ("not whole in the window, or no answer: both 0", r"or when the example has no answer \(`text == \[\]`\) — both are `0`"),
        ("answer at the end, no-answer examples, small stride, border cases", r"very end of a long context.*without an answer.*small stride \(4\).*crosses a window border")],
    ("03_extractive_qa", "test_concept_stride_overlap"): FMT,
    ("03_extractive_qa", "test_decode_spans"): [
        ("only the first len(offsets) positions of a window count", r"only its first `len\(features\[\"offset_mapping\"\]\[w\]\)` positions count"),
        ("n_best starts x n_best ends, ties: lower index first", r"`n_best` largest start logits.*ties: the lower index first"),
        ("context tokens only, s <= e, at most max_answer_length", r"not `none`, `s <= e` and `e - s \+ 1 <= max_answer_length`"),
        ("the score is a Python float", r"as a python float"),
        ("an entry for every example; '' and -inf without candidate", r"\*\*every\*\* example.*float\(\"-inf\"\)"),
        ("tie-breaking between pairs inside one window", r"\*\*ties\.\*\*.*inside a window, the pair with the larger start logit"),
        ("tie-breaking across windows: the earlier window", r"across windows, the earlier window"),
        ("n_best 1 and 3, max_answer_length 1 and 5, no valid span, logits on the device",
         r"`n_best` 1 and 3, `max_answer_length` 1 and 5, an example without any valid span.*on your device")],
    ("03_extractive_qa", "test_squad_em_f1"): [
        ("lower-case, strip punctuation, drop a/an/the, collapse whitespace", r"lower-case, remove punctuation, remove the articles a/an/the, collapse whitespace"),
        ("tokens counted with multiplicity", r"counted with multiplicity"),
        ("the maximum over gold answers", r"\*\*maximum\*\* over them"),
        ("an empty gold list is the single gold answer ''", r"empty gold list.*single gold answer `\"\"`"),
        ("empty prediction; tabs and double spaces; punctuation inside a word", r"empty prediction.*tabs and double spaces.*`\"u\.s\.\"` normalises to `\"us\"`")],
    # ------------------------------------------------------------------ 04 multiple_choice.py
    ("04_multiple_choice", "test_mc_logits"): [
        ("flatten to (batch * num_choices, length); pooler_output", r"\(batch \* num_choices, length\)`.*\*\*`pooler_output`\*\*"),
        ("attention_mask / token_type_ids may be None", r"or `none` \(then pass `none` on\).*`attention_mask=none` or `token_type_ids=none`"),
        ("(batch, num_choices) raw scores", r"\*\*`\(batch, num_choices\)`\*\* — raw scores, no softmax"),
        ("one question; 2 and 5 choices; head unchanged", r"batch of one question, 2 and 5 choices.*head's weights must not change")],
    ("04_multiple_choice", "test_concept_flat_shape"): FMT,
    ("04_multiple_choice", "test_encode_choices"): [
        ("one row per choice, [CLS] question [SEP] choice [SEP]", r"row `c` for choice `c`: `\[cls\] question \[sep\] choice \[sep\]`"),
        ("cut the end of the question, keep the choice", r"\*\*end of the question\*\* and keep the choice whole"),
        ("no padding to max_length", r"do not pad to `max_length`"),
        ("max_length as small as 12; 2 to 5 choices", r"as small as 12.*2 to 5 choices")],
    ("04_multiple_choice", "test_mc_accuracy"): [
        ("a Python float in [0, 1]", r"python `float` between 0 and 1"),
        ("ties: the first best choice", r"ties: the first best choice"),
        ("float64 logits, int32 labels, one question, 6 choices, none right", r"float64 logits with int32 labels, one question, 2 and 6 choices.*no right answer")],
    # ------------------------------------------------------------------ 05 classification.py
    ("05_sequence_classification", "test_ex1_head"): [
        ("names dropout and classifier", r"`self\.dropout = nn\.dropout\(dropout_prob\)` and `self\.classifier = nn\.linear\(hidden_size, num_labels\)`"),
        ("dropout once, before the linear layer; same dtype", r"same dtype — dropout first, then the linear layer"),
        ("num_labels=1, dropout 0.0 and 0.5, a batch of one, float64", r"`num_labels=1`, `dropout_prob` 0\.0 and 0\.5, a batch of one and float64")],
    ("05_sequence_classification", "test_ex2_loss"): [
        ("problem type inferred from num_labels and label dtype; explicit wins", r"`none` \(infer it as in the table\) or one of the three strings \(use it as given\)"),
        ("regression squeezes both sides when num_labels == 1", r"`logits\.squeeze\(\)` with `labels\.squeeze\(\)`"),
        ("int32 labels count as integer labels (.long())", r"int32 labels count as integer labels"),
        ("class_weights cast to the logits' dtype and device", r"cast it to the logits' dtype and device"),
        ("int32 labels, (batch, 1) regression labels, explicit type, batch of one", r"int32 labels, regression labels of shape `\(batch, 1\)`, an explicit problem type.*batch of one"),
        ("inputs not modified", r"do not modify the inputs")],
    ("05_sequence_classification", "test_ex3_step"): [
        ("move the batch to device in a new dict", r"build a new dict; do not modify the one you are given"),
        ("forward, backward, step, then zero_grad", r"`optimizer\.step\(\)`, then `optimizer\.zero_grad\(\)`"),
        ("return a Python float", r"return the loss as a python `float`"),
        ("train mode; SGD and AdamW; dropout 0.0 and 0.3; several steps", r"sgd as well as adamw and with dropout 0\.0 and 0\.3.*`model\.train\(\)`")],
    ("05_sequence_classification", "test_ex4_f1"): [
        ("lists, NumPy arrays or tensors", r"python lists, numpy arrays or torch tensors"),
        ("classes: 0..num_labels-1, else every class in y_true or y_pred", r"`0 … num_labels-1` if `num_labels` is given; otherwise every class that occurs in `y_true` \*\*or\*\* `y_pred`"),
        ("a never-predicted class has F1 0; an absent class 0, not NaN", r"never predicted gets f1 = 0.*gets 0, not nan"),
        ("a Python float", r"returns a python `float`")],
    ("05_sequence_classification", "test_concept_macro_f1_majority"): FMT,
    # ------------------------------------------------------------------ 06 multilabel.py
    ("06_multi_label", "test_ex1_loss_predict"): [
        ("targets 0/1 in any dtype; pos_weight None or (num_labels,)", r"0/1 entries in any dtype \(float or integer\)"),
        ("the loss in the dtype of the logits, mean over all entries", r"0-d tensor in the dtype of `logits`: the mean over \*\*all\*\*"),
        ("exact for huge logits; the gradient flows", r"huge logits \(\|z\| in the hundreds\) and its gradient must flow"),
        ("predict: bool, sigma >= threshold, float or per-label tensor", r"\*\*bool\*\* tensor.*\*\*≥\*\* `threshold`.*one threshold per label"),
        ("a batch of one, two labels, float64, int64 targets, logits of 200", r"batch of one, two labels, float64 logits.*int64 targets and logits of size 200")],
    ("06_multi_label", "test_concept_zero_logits"): FMT_CHOICE,
    ("06_multi_label", "test_ex2_thresholds"): [
        ("predict when probs >= t", r"predicted when `probs >= t`"),
        ("global: a Python float, best micro-F1", r"a python `float`: the candidate with the highest \*\*micro\*\*-f1"),
        ("per label: dtype of candidates; no positive example: the global threshold", r"dtype of `candidates`.*\*\*no positive example\*\*.*use `global_threshold`"),
        ("ties to any best candidate", r"ties may go to any of the best candidates"),
        ("a single label, 7 candidates, float64", r"a single label, 7 candidates, float64")],
    ("06_multi_label", "test_ex3_fixed_model"): [
        ("names bert (with pooler), dropout, classifier", r"`self\.bert` \(a `bertmodel` \*\*with\*\* its pooler\), `self\.dropout` and `self\.classifier"),
        ("logits from pooler_output of the last layer", r"`outputs\.pooler_output`.*\*\*last\*\* layer's `\[cls\]` vector"),
        ("mean BCEWithLogitsLoss, None without labels", r"mean `bcewithlogitsloss`.*or `none` without labels"),
        ("num_labels 1 and a batch of one", r"`num_labels` may be 1, and a batch may hold one example")],
    # ------------------------------------------------------------------ 07 multitask.py
    ("07_multi_task", "test_build_heads"): [
        ("an nn.ModuleDict of new Linear(hidden, len(labels)) with bias, in order", r"`nn\.moduledict` with one \*\*new\*\* `nn\.linear\(hidden_size, len\(task\.labels\)\)` \(with bias\).*in the order of `tasks`"),
        ("id2label with int keys", r"\(int keys\)"),
        ("ValueError for duplicate names", r"raise `valueerror` if two tasks have the same name")],
    ("07_multi_task", "test_multitask_loss"): [
        ("known entries only; -100 and NaN mark unknowns", r"average over the \*\*known\*\* entries only"),
        ("(batch,) regression labels reshaped", r"reshape `\(batch,\)` labels to the logits' shape"),
        ("a task missing from labels or with no known entry is skipped", r"missing from `labels` altogether.*\*\*skipped\*\*"),
        ("total = sum of weight * loss; zero connected to the logits", r"`total = σ task\.weight \* per_task\[name\]`.*still connected to the logits"),
        ("labels not modified", r"do not modify `labels` in place")],
    ("07_multi_task", "test_task_sampler"): [
        ("probabilities for every name, in order, summing to 1", r"for \*\*every\*\* name in `sizes`, in the same order \(floats summing to 1\)"),
        ("a size-0 task is never chosen (probability 0.0)", r"that task is never chosen, its probability is 0\.0"),
        ("ValueError: unknown strategy, temperature <= 0, all sizes 0", r"unknown `strategy`, for `strategy=\"temperature\"` with `temperature <= 0`, and when no size is above 0"),
        ("iterate forever; own random.Random(seed)", r"yields task names \*\*forever\*\*.*`random\.random\(seed\)` that the sampler owns"),
        ("round-robin order of sizes, first first", r"round-robin cycles through the non-empty tasks in the order of `sizes`, starting with the first"),
        ("how to draw: frequencies match over 4,000 draws; seed=1 differs", r"how to draw:.*4,000 draws.*`seed=1` gives another sequence"),
        ("equal sizes, 2,500 : 1 with T=5, a size-0 task in between, a single task", r"four equal sizes, a 2,500 : 1 size ratio.*size-0 task.*single task \(probability 1\.0\)")],
    ("07_multi_task", "test_concept_temperature_share"): FMT,
    ("07_multi_task", "test_triage_heads"): [
        ("the three label formats and their unknown markers", r"`\(batch, seq\)` int64 \| `-100`.*`\(batch,\)` float \| `nan`.*`\(batch, 4\)` float 0/1 \| a row of `-100`"),
        ("every report has a real token; the vectors are contextual", r"every report has at least one real token.*about its whole report \*and\* about the token itself"),
        ("the output dict: shapes, argmax, logits > 0, loss None without labels", r"`\(batch, seq, 3\)` scores.*`\(batch,\)` the predicted severity itself.*logit is > 0.*`none` when `labels` is `none`"),
        ("dtype and device of hidden, finite; inputs not modified", r"in the dtype of `hidden`, on its device, and finite.*do not modify the inputs"),
        ("built after torch.manual_seed, checked in eval mode", r"after `torch\.manual_seed\(seed\)`.*in `eval\(\)` mode"),
        ("a batch of one report, reports of one token", r"a batch of one report and for reports of one token"),
        ("padding changes no prediction", r"padding changes nothing\*\*: other vectors at the padding positions change no prediction"),
        ("finite scalar loss with grad; once trained, every parameter gets a gradient", r"finite scalar that requires grad, and once trained.*every parameter of your module receives a gradient"),
        ("each task's labels change the loss; unlabelled reports: vectors and removal change nothing; nothing labelled: 0",
         r"its labels change the loss.*changing the vectors of the unlabelled reports does not change the loss.*neither does removing them.*nothing is\s+labelled the loss is 0"),
        ("the fixed training recipe and the time limit", r"300 steps of `torch\.optim\.adam\(model\.parameters\(\), lr=1e-2\)`.*batches of 32.*within 60 s"),
        ("the three held-out thresholds", r"tags token accuracy ≥ 0\.80.*severity r² ≥ 0\.60.*flags accuracy ≥ 0\.85"),
        ("the rules again after training; hidden: other seeds, hidden_size 24 and 48", r"checked again on the trained module.*other seeds and `hidden_size` 24 and 48")],
    # ------------------------------------------------------------------ 08 grow.py
    ("08_growing_a_classifier", "test_grow_linear"): [
        ("layer and id2label not modified", r"\*\*do not modify it\.\*\*.*\*\*do not modify it\.\*\*"),
        ("ValueError: empty, twice, already existing", r"raise `valueerror` \(with a clear message\) if it is empty, contains a name twice, or contains a name that is already"),
        ("new_bias=None on a biased layer: ValueError", r"\*\*with\*\* a bias and `new_bias=none` → raise `valueerror`"),
        ("a layer without bias: new_bias ignored, no bias", r"\*\*without\*\* a bias → `new_bias` is ignored"),
        ("dtype and device of layer; bias exactly when layer has one", r"in the dtype and on the device of `layer`, with a bias exactly when `layer` has one"),
        ("old rows exactly (torch.equal)", r"\*\*exactly\*\* the old ones \(`torch\.equal`\)"),
        ("ids C + i; label2id the inverse", r"`c \+ i → new_labels\[i\]`; `label2id`: its inverse"),
        ("layers without bias, float64, 1 to 3 new labels", r"layers without a bias, float64 layers, 1 to 3 new labels")],
    ("08_growing_a_classifier", "test_concept_grown_weight_shape"): FMT,
    ("08_growing_a_classifier", "test_imprint_rows"): [
        ("unit features, mean, unit, scaled to the old rows' mean norm", r"\(1\) scale every feature to unit l2 norm.*\(4\) multiply by the \*\*mean l2 norm of the old rows\*\*"),
        ("bias: the mean of the old biases, None without", r"mean of the old biases; `none` if `old_bias` is `none`"),
        ("old_weight's dtype and device; inputs not modified", r"in `old_weight`'s dtype and on its device; do not modify the inputs"),
        ("compute in old_weight's dtype throughout: float64 to 1e-8", r"\*\*compute in `old_weight`'s dtype from the start\*\*.*float64 inputs to about 1e-8"),
        ("no bias, k = 1, a label with a single example", r"no bias, `k = 1` and a label with a single example")],
    ("08_growing_a_classifier", "test_replay_mix"): [
        ("inputs not modified", r"\*\*do not modify them\.\*\*"),
        ("n_old = min(len(old), round(ratio * len(new))), without replacement", r"`n_old = min\(len\(old_examples\), round\(ratio \* len\(new_examples\)\)\)`.*\*\*without replacement\*\*"),
        ("every new example once, shuffled together", r"every new example exactly once.*\*\*shuffled together\*\*"),
        ("seeded generator: same seed same list, other seed other list", r"same seed gives the same list, another seed another list"),
        ("ratio 0, non-integer ratio, more wanted than there are, one new example", r"`ratio=0\.0`.*not a whole number.*more old examples wanted than there are.*single new example")],
    # ------------------------------------------------------------------ 09 speed.py
    ("09_making_it_fast", "test_pad_batch"): [
        ("pad to the longest example of this batch, torch.long tensors", r"`torch\.long` tensors of shape `\(batch, l\)` where `l` is the length of the \*\*longest example in this batch\*\*"),
        ("attention_mask 1/0; token_type_ids padded with 0 only if present", r"`\"token_type_ids\"` padded with 0 — only if the examples have token type ids"),
        ("input lists not modified", r"do not modify the input lists"),
        ("the mask follows the lengths, not the ids (pad id 0 and 3)", r"the attention mask follows the \*\*lengths\*\*, not the ids.*`pad_token_id` 0 and 3"),
        ("one example: no padding", r"a batch of one example gets no padding")],
    ("09_making_it_fast", "test_concept_padding_positions"): FMT,
    ("09_making_it_fast", "test_bucket_batches"): [
        ("the four steps with one rng = random.Random(seed)", r"`rng = random\.random\(seed\)`.*chunks of `batch_size \* bucket_factor`.*shuffle the list of batches with the same `rng`"),
        ("every index exactly once; same seed same batches; another seed other batches", r"every index must appear exactly once; the same seed must give the same batches, and another seed other batches"),
        ("fewer indices than batch_size; bucket_factor 2 and 10; padding bound", r"fewer indices than `batch_size`.*`bucket_factor` of 2 and 10.*1\.25×")],
}


def _visible(source: str) -> str:
    return re.sub(r"### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS", "", source, flags=re.S)


def exercise_texts(nb) -> dict[str, str]:
    """{grade id of each graded cell: its exercise's text} — the markdown since the previous graded cell, and the
    visible part of the graded cell itself, whitespace collapsed."""
    texts, chunk = {}, []
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "markdown":
            chunk.append(cell.source)
        if meta.get("grade"):
            chunk.append(_visible(cell.source))
            texts[meta["grade_id"]] = re.sub(r"\s+", " ", "\n".join(chunk))
            chunk = []
    return texts


def missing_rules(assignment: str, nb) -> list[str]:
    """The rules of RULES[(assignment, ·)] that the notebook's exercise texts do not state, as readable lines."""
    texts = exercise_texts(nb)
    out = []
    for (name, grade_id), rules in RULES.items():
        if name != assignment:
            continue
        if grade_id not in texts:
            out.append(f"{assignment}/{grade_id}: no such graded cell")
            continue
        for rule, pattern in rules:
            if not re.search(pattern, texts[grade_id], flags=re.I | re.S):
                out.append(f"{assignment}/{grade_id}: the spec does not state: {rule}  (pattern {pattern!r})")
    return out


ENGLISH = sorted(p.name for p in (ROOT / "solutions").iterdir() if p.is_dir() and p.name[:2].isdigit()
                 and not p.name.endswith("_zh"))


def _notebook(assignment: str):
    return nbformat.read(ROOT / "solutions" / assignment / f"{assignment}.ipynb", as_version=4)


def test_the_table_covers_all_ten_notebooks_and_every_graded_cell():
    assert len(ENGLISH) == 10, ENGLISH
    for assignment in ENGLISH:
        graded = set(exercise_texts(_notebook(assignment)))
        listed = {g for (a, g) in RULES if a == assignment}
        assert graded == listed, (f"{assignment}: graded cells without rules {sorted(graded - listed)}, rules for cells "
                                  f"that do not exist {sorted(listed - graded)}")
        assert all(RULES[(assignment, g)] for g in graded)


@pytest.mark.parametrize("assignment", ENGLISH)
def test_every_hidden_test_rule_is_in_its_spec(assignment):
    problems = missing_rules(assignment, _notebook(assignment))
    assert not problems, "rules a hidden test checks but the spec does not state:\n" + "\n".join(problems)


def test_the_audit_fails_on_a_doctored_spec():
    """The audit can fail: drop 01's sentence about mlm_loss keeping the logits' dtype (the gap issue #14 found), and
    it reports exactly that rule."""
    nb = _notebook("01_masked_lm")
    assert not missing_rules("01_masked_lm", nb)
    hits = [c for c in nb.cells if c.cell_type == "markdown" and "in the dtype of `logits`" in c.source]
    assert len(hits) == 1
    hits[0].source = hits[0].source.replace("**in the dtype of `logits`** (float64 logits give a float64 loss: do not "
                                            "cast to\nfloat32) ", "")
    problems = missing_rules("01_masked_lm", nb)
    assert len(problems) == 1 and "keeps the logits' dtype" in problems[0], problems
    # a rule stated only in the hidden part of a test cell does not count
    test_cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "test_mlm_loss")
    test_cell.source += "\n### BEGIN HIDDEN TESTS\n# in the dtype of `logits`** (float64\n### END HIDDEN TESTS"
    assert missing_rules("01_masked_lm", nb) == problems
