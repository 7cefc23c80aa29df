"""Notebook 01's checkers: :func:`check_mlm_head`, :func:`check_mask_tokens`, :func:`check_mlm_loss`."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from transformers import BertConfig

from ..backbone import tiny_bert_config
from ..modeling.mlm import IGNORE_INDEX, MLMHead, mask_tokens, mlm_loss
from .core import guard_checkers
from .core import GradingError, call_student, clone_inputs, expect_tensor, expect_unchanged, hidden_seed, passed

__all__ = ["check_mlm_head", "check_mask_tokens", "check_mlm_loss"]


def _head_config(hidden_tests_case: int = 0) -> BertConfig:
    if hidden_tests_case == 1:
        return tiny_bert_config(vocab_size=57, hidden_size=24, num_attention_heads=4, layer_norm_eps=1e-7)
    if hidden_tests_case == 2:
        return tiny_bert_config(vocab_size=40, hidden_size=16, num_attention_heads=2, hidden_act="relu")
    return tiny_bert_config()


def _build_student_head(student_cls, config: BertConfig, device, dtype=torch.float32):
    """Build the student's head and the reference on the same embedding, give them the same weights."""
    emb = nn.Embedding(config.vocab_size, config.hidden_size).to(device=device, dtype=dtype)
    student = call_student(student_cls, config, emb, name="MLMHead", reference=MLMHead)
    if not isinstance(student, nn.Module):
        raise GradingError(f"MLMHead(config, word_embeddings) should build an nn.Module, got a {type(student).__name__}.")
    student.to(device=device, dtype=dtype)
    for attr in ("transform", "decoder", "bias"):
        if not hasattr(student, attr):
            raise GradingError(f"Your MLMHead has no attribute `self.{attr}`; the instructions ask for `self.transform`"
                               " (with `.dense` and `.LayerNorm`), `self.decoder` and `self.bias`.")
    for attr in ("dense", "LayerNorm"):
        if not hasattr(student.transform, attr):
            raise GradingError(f"Your MLMHead's `self.transform` has no `.{attr}`; give the transform the submodules "
                               "`dense` (nn.Linear(hidden, hidden)) and `LayerNorm` (nn.LayerNorm(hidden, eps=...)).")
    dec_w = getattr(student.decoder, "weight", None)
    if dec_w is not emb.weight:
        if isinstance(dec_w, torch.Tensor) and dec_w.shape == emb.weight.shape and torch.equal(dec_w.detach(),
                                                                                              emb.weight.detach()):
            raise GradingError("Your decoder weight has the values of the word embeddings but it is copied, not tied: "
                               "it is a different tensor, so training would update the two separately. Assign the "
                               "Parameter itself: `self.decoder.weight = word_embeddings.weight` (no .clone(), "
                               ".data or nn.Parameter(...) around it).")
        raise GradingError("Your decoder weight is not tied to the word embeddings: `head.decoder.weight is "
                           "word_embeddings.weight` is False (it is a new matrix of shape "
                           f"{tuple(dec_w.shape) if isinstance(dec_w, torch.Tensor) else None}). Assign "
                           "`self.decoder.weight = word_embeddings.weight`.")
    if not isinstance(student.bias, nn.Parameter) or tuple(student.bias.shape) != (config.vocab_size,):
        raise GradingError(f"`self.bias` should be an nn.Parameter of shape ({config.vocab_size},) (one per word of the "
                           f"vocabulary); got {type(student.bias).__name__} of shape "
                           f"{tuple(getattr(student.bias, 'shape', ()))}.")
    dec_b = getattr(student.decoder, "bias", None)
    if dec_b is not None and dec_b is not student.bias:
        raise GradingError("Your decoder has its own bias in addition to `self.bias`, so two biases are added. Create "
                           "the decoder with `nn.Linear(hidden, vocab, bias=False)`.")
    ref = MLMHead(config, emb).to(device=device, dtype=dtype)
    g = torch.Generator().manual_seed(config.vocab_size)
    with torch.no_grad():
        emb.weight.copy_(torch.randn(emb.weight.shape, generator=g).to(emb.weight))
        for name, p in [("transform.dense.weight", ref.transform.dense.weight),
                        ("transform.dense.bias", ref.transform.dense.bias),
                        ("transform.LayerNorm.weight", ref.transform.LayerNorm.weight),
                        ("transform.LayerNorm.bias", ref.transform.LayerNorm.bias), ("bias", ref.bias)]:
            p.copy_((torch.randn(p.shape, generator=g) * 0.5 + (1.0 if name.endswith("LayerNorm.weight") else 0.0))
                    .to(p))
        try:
            sd = student.transform
            for sub, attr in [(sd.dense, "weight"), (sd.dense, "bias"), (sd.LayerNorm, "weight"), (sd.LayerNorm, "bias")]:
                target = getattr(sub, attr)
                source = getattr(ref.transform.dense if sub is sd.dense else ref.transform.LayerNorm, attr)
                if target is None or target.shape != source.shape:
                    raise GradingError(f"Your transform's {type(sub).__name__}.{attr} has shape "
                                       f"{None if target is None else tuple(target.shape)}, expected "
                                       f"{tuple(source.shape)}.")
                target.copy_(source)
            student.bias.copy_(ref.bias)
        except GradingError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise GradingError(f"Could not give your MLMHead the reference weights: {exc}") from None
    return student, ref, emb


def _head_diagnosis(got: torch.Tensor, want: torch.Tensor, ref, h: torch.Tensor, config) -> str:
    """The bug class, when the logits show it: they are probabilities, or they equal the reference with one piece
    changed (no bias, LayerNorm first, no LayerNorm, another activation, another eps) far more closely than they
    equal the reference. Empty when no explanation fits clearly (then the plain value comparison speaks)."""
    off = float((got - want).abs().max())
    if off == 0:
        return ""
    if bool((got >= 0).all()) and torch.allclose(got.double().sum(-1), torch.ones_like(got[..., 0]).double(),
                                                 atol=1e-4):
        return "every row is non-negative and sums to 1, so you applied a softmax: return the logits (no softmax)."
    t, ln = ref.transform, ref.transform.LayerNorm
    dense = t.dense(h)

    def head(x, norm=True, eps=None, bias=True):
        if norm:
            x = F.layer_norm(x, ln.normalized_shape, ln.weight, ln.bias, ln.eps if eps is None else eps)
        return ref.decoder(x) + (ref.bias if bias else 0)

    act = config.hidden_act
    alts = {
        "they equal the reference without `+ self.bias`: add the output bias.": head(t.act(dense), bias=False),
        "they equal LayerNorm applied before the activation: the order is dense → activation → LayerNorm.":
            ref.decoder(t.act(ln(dense))) + ref.bias,
        "they equal the reference without the LayerNorm: the transform ends with "
        "`self.LayerNorm(...)` (nn.LayerNorm(hidden, eps=config.layer_norm_eps)).": head(t.act(dense), norm=False),
        f"they equal the reference without the activation: apply config.hidden_act ({act!r}) after dense.":
            head(dense),
    }
    for name, fn in (("relu", F.relu), ("gelu", F.gelu), ("tanh-approximated gelu",
                                                          lambda x: F.gelu(x, approximate="tanh")),
                     ("silu", F.silu)):
        if name != act:
            alts[f"they equal the head with {name} as the activation; the config asks for hidden_act={act!r}: pick "
                 "it from the config (`ACT2FN[config.hidden_act]`), do not hard-code one."] = head(fn(dense))
    for eps in (1e-5, 1e-12, 1e-6):
        if eps != ln.eps:
            alts[f"they equal a LayerNorm with eps={eps:g}; the config's layer_norm_eps is {ln.eps:g}: pass "
                 "`eps=config.layer_norm_eps` to nn.LayerNorm."] = head(t.act(dense), eps=eps)
    best, best_d = "", off
    for hint, alt in alts.items():
        d = float((got - alt).abs().max())
        if d < best_d and float((alt - want).abs().max()) > 0 and d <= 1e-3 * off + 1e-12:
            best, best_d = hint, d
    return best


def check_mlm_head(student_cls, device="cpu", hidden_tests: bool = False) -> None:
    """Build the student's ``MLMHead(config, word_embeddings)``, check the tie, give it the reference's weights and
    compare logits (full layout and masked-positions layout)."""
    device = torch.device(device)
    cases = [(0, torch.float32)]
    if hidden_tests:
        cases += [(1, torch.float32), (2, torch.float32), (0, torch.float64)]
    n_checks = 0
    for case, dtype in cases:
        config = _head_config(case)
        student, ref, emb = _build_student_head(student_cls, config, device, dtype)
        g = torch.Generator().manual_seed(100 if not n_checks else hidden_seed("check_mlm_head", n_checks))
        batch, seq = (3, 7) if case == 0 else (2, 11)
        h = torch.randn(batch, seq, config.hidden_size, generator=g).to(device=device, dtype=dtype)
        positions = torch.rand(batch, seq, generator=g) < 0.3
        positions[0, 0] = True
        positions = positions.to(device)
        what = f"MLMHead(config with hidden_size={config.hidden_size}, vocab_size={config.vocab_size}, " \
               f"hidden_act={config.hidden_act!r}) on sequence_output of shape {tuple(h.shape)} ({dtype})"
        before = clone_inputs((h, positions))
        student.eval()
        with torch.no_grad():
            got = call_student(student, h, name="MLMHead.forward")
            want = ref(h)
        expect_unchanged(before, (h, positions), "sequence_output")
        if isinstance(got, torch.Tensor) and got.shape == want.shape and got.dtype == want.dtype:
            with torch.no_grad():
                hint = _head_diagnosis(got.detach(), want, ref, h, config)
            if hint:
                raise GradingError(f"The logits of {what} are wrong: {hint}")
        expect_tensor(got, want, f"The logits of {what}")
        with torch.no_grad():
            got_m = call_student(student, h, masked_positions=positions, name="MLMHead.forward")
            want_m = ref(h, masked_positions=positions)
        if isinstance(got_m, torch.Tensor) and got_m.shape == want.shape:
            raise GradingError(f"With masked_positions (a bool mask selecting {int(positions.sum())} positions) your head "
                               f"returned shape {tuple(got_m.shape)}; it should return only the selected rows, shape "
                               f"({int(positions.sum())}, {config.vocab_size}) — select `sequence_output[masked_positions]`"
                               " before the transform.")
        expect_tensor(got_m, want_m, f"The logits of {what} with masked_positions selecting "
                                     f"{int(positions.sum())} positions")
        n_checks += 2
    # the tie must carry gradients: a loss on the logits must reach the embedding matrix through the decoder
    if hidden_tests:
        config = _head_config(0)
        student, ref, emb = _build_student_head(student_cls, config, device)
        student.train()
        h = torch.randn(2, 5, config.hidden_size, generator=torch.Generator().manual_seed(hidden_seed("check_mlm_head", 99)))\
            .to(device)
        out = call_student(student, h, name="MLMHead.forward")
        if not isinstance(out, torch.Tensor) or not out.requires_grad:
            raise GradingError("The logits of your MLMHead carry no gradient: do not use .detach(), .data or "
                               "torch.no_grad() in forward.")
        out.float().logsumexp(-1).sum().backward()
        if emb.weight.grad is None or not bool(emb.weight.grad.abs().sum() > 0):
            raise GradingError("No gradient reached the word-embedding matrix through your decoder: use "
                               "`self.decoder(...)` (or `self.decoder.weight`) without .detach() or torch.no_grad().")
        n_checks += 1
    passed(f"MLMHead is tied to the word embeddings and matches the reference ({n_checks} comparisons on "
           f"{device.type})")


def _mask_inputs(seed: int, batch: int, seq: int, vocab: int, device, pad_fraction: float = 0.3):
    """Random token ids with [CLS] at 0, [SEP] at the end of each row's real tokens, padding after."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, vocab, (batch, seq), generator=g)
    lengths = torch.randint(max(3, int(seq * (1 - pad_fraction))), seq + 1, (batch,), generator=g)
    lengths[0] = seq
    pos = torch.arange(seq)[None, :]
    ids[:, 0] = 2                                            # [CLS]
    ids[pos == (lengths[:, None] - 1)] = 3                   # [SEP]
    ids[pos >= lengths[:, None]] = 0                         # [PAD]
    special = (pos == 0) | (pos >= lengths[:, None] - 1)
    return ids.to(device), special.to(device)


def _student_masks(student_fn, ids, special, mask_id, vocab, prob, seed, device):
    gen = torch.Generator(device=device).manual_seed(seed)
    out = call_student(student_fn, ids, special, mask_id, vocab, prob, generator=gen, name="mask_tokens",
                       reference=mask_tokens)
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        raise GradingError(f"mask_tokens should return a pair (masked_input_ids, labels); got {type(out).__name__}"
                           + (f" of length {len(out)}" if isinstance(out, (tuple, list)) else "") + ".")
    masked, labels = out
    for name, t in (("masked_input_ids", masked), ("labels", labels)):
        if not isinstance(t, torch.Tensor):
            raise GradingError(f"mask_tokens returned {name} as a {type(t).__name__}; it should be a torch.Tensor.")
        if tuple(t.shape) != tuple(ids.shape):
            raise GradingError(f"mask_tokens returned {name} of shape {tuple(t.shape)}; expected the shape of input_ids, "
                               f"{tuple(ids.shape)}.")
        if t.dtype != torch.long:
            raise GradingError(f"mask_tokens returned {name} of dtype {t.dtype}; expected torch.int64 (token ids).")
        if t.device.type != ids.device.type:
            raise GradingError(f"mask_tokens returned {name} on {t.device}; expected {ids.device} (the device of "
                               "input_ids).")
    return masked, labels


def _bounds(p: float, n: int, sigmas: float = 5.0) -> tuple[float, float]:
    sd = math.sqrt(p * (1 - p) / max(1, n))
    return p - sigmas * sd - 1e-9, p + sigmas * sd + 1e-9


def check_mask_tokens(student_fn, device="cpu", hidden_tests: bool = False) -> None:
    """Check the student's ``mask_tokens(input_ids, special_tokens_mask, mask_token_id, vocab_size, mlm_probability,
    generator=...)`` statistically (its random draws cannot equal the reference's): proportions within 5 standard
    deviations, special tokens and padding never chosen, labels, input untouched, reproducible with a seed."""
    device = torch.device(device)
    mask_id, vocab = 4, 1000
    cases = [(0, 64, 96, 0.15)]
    if hidden_tests:
        cases += [(hidden_seed("check_mask_tokens", 0), 96, 64, 0.3), (hidden_seed("check_mask_tokens", 1), 128, 48, 0.15)]
    for seed, batch, seq, prob in cases:
        ids, special = _mask_inputs(seed, batch, seq, vocab, device)
        before = clone_inputs((ids, special))
        masked, labels = _student_masks(student_fn, ids, special, mask_id, vocab, prob, seed, device)
        expect_unchanged(before, (ids, special), "input_ids (or special_tokens_mask)")
        chosen = labels != IGNORE_INDEX
        if float(chosen.float().mean()) > 0.9:
            raise GradingError(f"labels has a token id at {float(chosen.float().mean()):.0%} of the positions; labels "
                               "must be -100 at every position that was not chosen (only ~15% of the real tokens).")
        if bool((chosen & special).any()):
            i = tuple(int(x) for x in (chosen & special).nonzero()[0])
            kind = "padding" if int(ids[i]) == 0 else "a special token ([CLS]/[SEP])"
            raise GradingError(f"mask_tokens chose position {i}, which is {kind}: positions where special_tokens_mask is "
                               "True must never be chosen (set their probability to 0 before sampling).")
        if bool((labels[chosen] != ids[chosen]).any()):
            raise GradingError("At chosen positions the label must be the ORIGINAL token id (from input_ids), not the "
                               "masked or random id.")
        if bool(((labels != IGNORE_INDEX) != chosen).any()) or bool((labels[~chosen] != IGNORE_INDEX).any()):
            raise GradingError("labels must be -100 at every position that was not chosen.")
        if bool((masked[~chosen] != ids[~chosen]).any()):
            i = tuple(int(x) for x in ((masked != ids) & ~chosen).nonzero()[0])
            raise GradingError(f"masked_input_ids differs from input_ids at position {i}, whose label is -100: only "
                               "chosen positions (those with a label) may change.")
        eligible = ~special
        n_eligible = int(eligible.sum())
        n_chosen = int(chosen.sum())
        rate = n_chosen / n_eligible
        lo, hi = _bounds(prob, n_eligible)
        if not lo <= rate <= hi:
            everything = n_chosen / ids.numel()
            lo_all, hi_all = _bounds(prob, ids.numel())
            n_special = ids.numel() - n_eligible
            if abs(rate - (1 - prob)) <= (hi - lo) / 2:
                hint = (f" (that is about 1 - {prob}: the comparison is the wrong way round; choose a position when "
                        "its uniform number is BELOW mlm_probability)")
            elif rate > hi and n_special and lo_all <= everything <= hi_all:
                hint = (f" (too many: {everything:.1%} of ALL positions, special tokens and padding included, is what "
                        "matches mlm_probability; the rate is per real token)")
            elif rate < lo:
                hint = " (too few tokens were chosen)"
            else:
                hint = " (too many tokens were chosen)"
            raise GradingError(f"mask_tokens chose {rate:.1%} of the {n_eligible} eligible tokens with "
                               f"mlm_probability={prob}; expected {prob:.0%} (between {lo:.1%} and {hi:.1%}){hint}.")
        to_mask = chosen & (masked == mask_id)
        unchanged = chosen & (masked == ids)
        random_ = chosen & (masked != mask_id) & (masked != ids)
        shares = {"[MASK]": int(to_mask.sum()) / n_chosen, "unchanged": int(unchanged.sum()) / n_chosen,
                  "random": int(random_.sum()) / n_chosen}
        expected = {"[MASK]": 0.8, "unchanged": 0.1 + 0.1 / vocab, "random": 0.1 - 0.1 / vocab}
        for key, p in expected.items():
            lo, hi = _bounds(p, n_chosen)
            if not lo <= shares[key] <= hi:
                got = ", ".join(f"{k} {v:.1%}" for k, v in shares.items())
                raise GradingError(f"Of the {n_chosen} chosen tokens: {got}; expected about 80% [MASK], 10% random, "
                                   f"10% unchanged ({key} should be between {lo:.1%} and {hi:.1%}). Draw one uniform "
                                   "number per position and split it 0.8 / 0.1 / 0.1, or take 50% of the non-[MASK] "
                                   "ones for random tokens.")
        rnd = masked[random_]
        if rnd.numel() and (int(rnd.min()) < 0 or int(rnd.max()) >= vocab):
            raise GradingError(f"Random replacement ids must be in [0, vocab_size={vocab}); got values from "
                               f"{int(rnd.min())} to {int(rnd.max())}.")
        if rnd.numel() >= 20 and rnd.unique().numel() < rnd.numel() // 4:
            raise GradingError(f"The {rnd.numel()} random replacements use only {rnd.unique().numel()} different ids; "
                               "draw each one uniformly from [0, vocab_size) (torch.randint).")
        # reproducible with a seeded generator, different with another seed
        again, labels2 = _student_masks(student_fn, ids, special, mask_id, vocab, prob, seed, device)
        if not (torch.equal(again, masked) and torch.equal(labels2, labels)):
            raise GradingError("Two calls with generators seeded the same gave different results: pass "
                               "`generator=generator` to every random function (torch.rand, torch.randint, ...).")
        other, _ = _student_masks(student_fn, ids, special, mask_id, vocab, prob, seed + 1000, device)
        if torch.equal(other, masked):
            raise GradingError("Generators with different seeds gave the same masks: the randomness must come from "
                               "the `generator` argument.")
    if hidden_tests:
        # a row made only of special tokens and padding: nothing may be chosen; mlm_probability=0 chooses nothing
        seed = hidden_seed("check_mask_tokens", 2)
        ids, special = _mask_inputs(seed, 4, 16, vocab, device)
        special[1] = True
        masked, labels = _student_masks(student_fn, ids, special, mask_id, vocab, 0.5, seed, device)
        if bool((labels[1] != IGNORE_INDEX).any()):
            raise GradingError("A row whose tokens are all special/padding got a label: such a row must stay untouched.")
        masked, labels = _student_masks(student_fn, ids, special, mask_id, vocab, 0.0, seed, device)
        if bool((labels != IGNORE_INDEX).any()) or not torch.equal(masked, ids):
            raise GradingError("With mlm_probability=0 nothing should be chosen (labels all -100, input unchanged).")
    passed(f"mask_tokens: rates within statistical bounds, special tokens and padding untouched, labels right, "
           f"input unchanged, reproducible ({len(cases)} batch(es) on {device.type})")


def check_mlm_loss(student_fn, device="cpu", hidden_tests: bool = False) -> None:
    """Compare the student's ``mlm_loss(logits, labels)`` with the reference in both layouts."""
    device = torch.device(device)
    cases = [("full", 0, torch.float32), ("masked", 1, torch.float32)]
    if hidden_tests:
        hidden = [("full", torch.float64), ("masked", torch.float64), ("masked-1d", torch.float32), ("none", torch.float32)]
        cases += [(layout, hidden_seed("check_mlm_loss", i), dtype) for i, (layout, dtype) in enumerate(hidden)]
    for layout, seed, dtype in cases:
        g = torch.Generator().manual_seed(seed)
        batch, seq, vocab = 4, 9, 23
        labels = torch.randint(vocab, (batch, seq), generator=g)
        keep = torch.rand(batch, seq, generator=g) < 0.3
        keep[0, 1] = True
        if layout == "none":
            keep[:] = False
        labels = torch.where(keep, labels, torch.full_like(labels, IGNORE_INDEX)).to(device)
        full_logits = (torch.randn(batch, seq, vocab, generator=g) * 3).to(device=device, dtype=dtype)
        if layout in ("full", "none"):
            logits, lab = full_logits, labels
            what = f"mlm_loss on logits {tuple(logits.shape)} and labels {tuple(lab.shape)} (full layout)"
        else:
            logits = full_logits[labels != IGNORE_INDEX]
            lab = labels if layout == "masked" else labels[labels != IGNORE_INDEX]
            what = (f"mlm_loss on logits {tuple(logits.shape)} (only the {logits.shape[0]} masked positions) and labels "
                    f"{tuple(lab.shape)} (masked layout)")
        before = clone_inputs((logits, lab))
        got = call_student(student_fn, logits, lab, name="mlm_loss", reference=mlm_loss)
        expect_unchanged(before, (logits, lab), "An input of mlm_loss")
        want = mlm_loss(logits, lab)
        if layout == "none":
            what += " when no position is labelled"
            if isinstance(got, torch.Tensor) and not torch.isfinite(got).all():
                raise GradingError(f"{what} returned {got.item()}; with nothing to predict return 0 (e.g. "
                                   "`logits.sum() * 0.0`), not the NaN of an empty mean.")
        if isinstance(got, torch.Tensor) and got.shape == want.shape and layout in ("full", "masked"):
            flat = full_logits.reshape(-1, vocab).double()
            everywhere = F.cross_entropy(flat, labels.reshape(-1).clamp(min=0)).to(dtype)
            summed = F.cross_entropy(flat, labels.reshape(-1), reduction="sum").to(dtype)
            for alt, hint in [(everywhere, "it averages over every position: ignore positions whose label is -100 "
                                           "(`ignore_index=-100`)."),
                              (summed, "it is the sum over positions: take the mean over labelled positions.")]:
                if torch.allclose(got.detach().double(), alt.double(), rtol=1e-5):
                    raise GradingError(f"{what} is wrong: {hint}")
        expect_tensor(got, want, what)
        if dtype == torch.float32 and layout != "none":
            lg = logits.detach().clone().requires_grad_(True)
            out = call_student(student_fn, lg, lab, name="mlm_loss", reference=mlm_loss)
            if not isinstance(out, torch.Tensor) or not out.requires_grad:
                raise GradingError(f"{what} returned a loss with no gradient: do not use .item(), .detach() or "
                                   "torch.no_grad() inside mlm_loss.")
    passed(f"mlm_loss matches the reference in the full and the masked layouts ({len(cases)} cases on {device.type})")


guard_checkers(globals())  # warnings and stderr while checking cost no points (core.checker)
