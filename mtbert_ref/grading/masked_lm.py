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
from .i18n import say
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
        raise GradingError(say("masked_lm.head_not_module", type=type(student).__name__))
    student.to(device=device, dtype=dtype)
    for attr in ("transform", "decoder", "bias"):
        if not hasattr(student, attr):
            raise GradingError(say("masked_lm.head_no_attr", attr=attr))
    for attr in ("dense", "LayerNorm"):
        if not hasattr(student.transform, attr):
            raise GradingError(say("masked_lm.head_no_transform_attr", attr=attr))
    dec_w = getattr(student.decoder, "weight", None)
    if dec_w is not emb.weight:
        if isinstance(dec_w, torch.Tensor) and dec_w.shape == emb.weight.shape and torch.equal(dec_w.detach(),
                                                                                              emb.weight.detach()):
            raise GradingError(say("masked_lm.head_copied_not_tied"))
        raise GradingError(say("masked_lm.head_not_tied",
                               shape=tuple(dec_w.shape) if isinstance(dec_w, torch.Tensor) else None))
    if not isinstance(student.bias, nn.Parameter) or tuple(student.bias.shape) != (config.vocab_size,):
        raise GradingError(say("masked_lm.head_bias_shape", vocab=config.vocab_size, type=type(student.bias).__name__,
                               shape=tuple(getattr(student.bias, "shape", ()))))
    dec_b = getattr(student.decoder, "bias", None)
    if dec_b is not None and dec_b is not student.bias:
        raise GradingError(say("masked_lm.head_two_biases"))
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
                    raise GradingError(say("masked_lm.head_transform_shape", module=type(sub).__name__, attr=attr,
                                           got=None if target is None else tuple(target.shape),
                                           want=tuple(source.shape)))
                target.copy_(source)
            student.bias.copy_(ref.bias)
        except GradingError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise GradingError(say("masked_lm.head_cannot_copy", error=exc)) from None
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
        return say("masked_lm.diag_softmax")
    t, ln = ref.transform, ref.transform.LayerNorm
    dense = t.dense(h)

    def head(x, norm=True, eps=None, bias=True):
        if norm:
            x = F.layer_norm(x, ln.normalized_shape, ln.weight, ln.bias, ln.eps if eps is None else eps)
        return ref.decoder(x) + (ref.bias if bias else 0)

    act = config.hidden_act
    alts = {
        say("masked_lm.diag_no_bias"): head(t.act(dense), bias=False),
        say("masked_lm.diag_norm_first"): ref.decoder(t.act(ln(dense))) + ref.bias,
        say("masked_lm.diag_no_norm"): head(t.act(dense), norm=False),
        say("masked_lm.diag_no_activation", act=repr(act)): head(dense),
    }
    for name, fn in (("relu", F.relu), ("gelu", F.gelu), (say("masked_lm.tanh_gelu"),
                                                          lambda x: F.gelu(x, approximate="tanh")),
                     ("silu", F.silu)):
        if name != act:
            alts[say("masked_lm.diag_other_activation", name=name, act=repr(act))] = head(fn(dense))
    for eps in (1e-5, 1e-12, 1e-6):
        if eps != ln.eps:
            alts[say("masked_lm.diag_eps", eps=eps, config_eps=ln.eps)] = head(t.act(dense), eps=eps)
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
        what = say("masked_lm.head_what", hidden=config.hidden_size, vocab=config.vocab_size,
                   act=repr(config.hidden_act), shape=tuple(h.shape), dtype=dtype)
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
                raise GradingError(say("masked_lm.logits_wrong", what=what, hint=hint))
        expect_tensor(got, want, say("masked_lm.logits_of", what=what))
        with torch.no_grad():
            got_m = call_student(student, h, masked_positions=positions, name="MLMHead.forward")
            want_m = ref(h, masked_positions=positions)
        if isinstance(got_m, torch.Tensor) and got_m.shape == want.shape:
            raise GradingError(say("masked_lm.masked_positions_shape", k=int(positions.sum()),
                                   shape=tuple(got_m.shape), vocab=config.vocab_size))
        expect_tensor(got_m, want_m, say("masked_lm.logits_of_selected", what=what, k=int(positions.sum())))
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
            raise GradingError(say("masked_lm.head_no_grad"))
        out.float().logsumexp(-1).sum().backward()
        if emb.weight.grad is None or not bool(emb.weight.grad.abs().sum() > 0):
            raise GradingError(say("masked_lm.head_no_embedding_grad"))
        n_checks += 1
    passed(say("masked_lm.head_passed", n=n_checks, device=device.type))


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
        raise GradingError(say("masked_lm.mask_not_pair", type=type(out).__name__,
                               length=say("masked_lm.of_length", n=len(out)) if isinstance(out, (tuple, list)) else ""))
    masked, labels = out
    for name, t in (("masked_input_ids", masked), ("labels", labels)):
        if not isinstance(t, torch.Tensor):
            raise GradingError(say("masked_lm.mask_not_tensor", name=name, type=type(t).__name__))
        if tuple(t.shape) != tuple(ids.shape):
            raise GradingError(say("masked_lm.mask_shape", name=name, got=tuple(t.shape), want=tuple(ids.shape)))
        if t.dtype != torch.long:
            raise GradingError(say("masked_lm.mask_dtype", name=name, dtype=t.dtype))
        if t.device.type != ids.device.type:
            raise GradingError(say("masked_lm.mask_device", name=name, got=t.device, want=ids.device))
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
        expect_unchanged(before, (ids, special), say("masked_lm.mask_inputs"))
        chosen = labels != IGNORE_INDEX
        if float(chosen.float().mean()) > 0.9:
            raise GradingError(say("masked_lm.mask_labels_everywhere", share=float(chosen.float().mean())))
        if bool((chosen & special).any()):
            i = tuple(int(x) for x in (chosen & special).nonzero()[0])
            kind = say("masked_lm.kind_padding") if int(ids[i]) == 0 else say("masked_lm.kind_special")
            raise GradingError(say("masked_lm.mask_chose_special", position=i, kind=kind))
        if bool((labels[chosen] != ids[chosen]).any()):
            raise GradingError(say("masked_lm.mask_label_not_original"))
        if bool(((labels != IGNORE_INDEX) != chosen).any()) or bool((labels[~chosen] != IGNORE_INDEX).any()):
            raise GradingError(say("masked_lm.mask_labels_unchosen"))
        if bool((masked[~chosen] != ids[~chosen]).any()):
            i = tuple(int(x) for x in ((masked != ids) & ~chosen).nonzero()[0])
            raise GradingError(say("masked_lm.mask_changed_unchosen", position=i))
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
                hint = say("masked_lm.rate_flipped", prob=prob)
            elif rate > hi and n_special and lo_all <= everything <= hi_all:
                hint = say("masked_lm.rate_all_positions", share=everything)
            elif rate < lo:
                hint = say("masked_lm.rate_too_few")
            else:
                hint = say("masked_lm.rate_too_many")
            raise GradingError(say("masked_lm.mask_rate", rate=rate, n=n_eligible, prob=prob, lo=lo, hi=hi, hint=hint))
        to_mask = chosen & (masked == mask_id)
        unchanged = chosen & (masked == ids)
        random_ = chosen & (masked != mask_id) & (masked != ids)
        shares = {"[MASK]": int(to_mask.sum()) / n_chosen, "unchanged": int(unchanged.sum()) / n_chosen,
                  "random": int(random_.sum()) / n_chosen}
        expected = {"[MASK]": 0.8, "unchanged": 0.1 + 0.1 / vocab, "random": 0.1 - 0.1 / vocab}
        for key, p in expected.items():
            lo, hi = _bounds(p, n_chosen)
            if not lo <= shares[key] <= hi:
                shown = {"[MASK]": "[MASK]", "unchanged": say("masked_lm.share_unchanged"),
                         "random": say("masked_lm.share_random")}
                got = say("core.list_comma").join(f"{shown[k]} {v:.1%}" for k, v in shares.items())
                raise GradingError(say("masked_lm.mask_shares", n=n_chosen, got=got, key=shown[key], lo=lo, hi=hi))
        rnd = masked[random_]
        if rnd.numel() and (int(rnd.min()) < 0 or int(rnd.max()) >= vocab):
            raise GradingError(say("masked_lm.mask_random_range", vocab=vocab, lo=int(rnd.min()), hi=int(rnd.max())))
        if rnd.numel() >= 20 and rnd.unique().numel() < rnd.numel() // 4:
            raise GradingError(say("masked_lm.mask_random_few_ids", n=rnd.numel(), k=rnd.unique().numel()))
        # reproducible with a seeded generator, different with another seed
        again, labels2 = _student_masks(student_fn, ids, special, mask_id, vocab, prob, seed, device)
        if not (torch.equal(again, masked) and torch.equal(labels2, labels)):
            raise GradingError(say("masked_lm.mask_not_reproducible"))
        other, _ = _student_masks(student_fn, ids, special, mask_id, vocab, prob, seed + 1000, device)
        if torch.equal(other, masked):
            raise GradingError(say("masked_lm.mask_seed_ignored"))
    if hidden_tests:
        # a row made only of special tokens and padding: nothing may be chosen; mlm_probability=0 chooses nothing
        seed = hidden_seed("check_mask_tokens", 2)
        ids, special = _mask_inputs(seed, 4, 16, vocab, device)
        special[1] = True
        masked, labels = _student_masks(student_fn, ids, special, mask_id, vocab, 0.5, seed, device)
        if bool((labels[1] != IGNORE_INDEX).any()):
            raise GradingError(say("masked_lm.mask_special_row"))
        masked, labels = _student_masks(student_fn, ids, special, mask_id, vocab, 0.0, seed, device)
        if bool((labels != IGNORE_INDEX).any()) or not torch.equal(masked, ids):
            raise GradingError(say("masked_lm.mask_zero_probability"))
    passed(say("masked_lm.mask_passed", n=len(cases), device=device.type))


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
            what = say("masked_lm.loss_what_full", shape=tuple(logits.shape), labels=tuple(lab.shape))
        else:
            logits = full_logits[labels != IGNORE_INDEX]
            lab = labels if layout == "masked" else labels[labels != IGNORE_INDEX]
            what = say("masked_lm.loss_what_masked", shape=tuple(logits.shape), n=logits.shape[0],
                       labels=tuple(lab.shape))
        before = clone_inputs((logits, lab))
        got = call_student(student_fn, logits, lab, name="mlm_loss", reference=mlm_loss)
        expect_unchanged(before, (logits, lab), say("masked_lm.loss_input"))
        want = mlm_loss(logits, lab)
        if layout == "none":
            what = say("masked_lm.loss_what_none", what=what)
            if isinstance(got, torch.Tensor) and not torch.isfinite(got).all():
                raise GradingError(say("masked_lm.loss_nan", what=what, value=got.item()))
        if isinstance(got, torch.Tensor) and got.shape == want.shape and layout in ("full", "masked"):
            flat = full_logits.reshape(-1, vocab).double()
            everywhere = F.cross_entropy(flat, labels.reshape(-1).clamp(min=0)).to(dtype)
            summed = F.cross_entropy(flat, labels.reshape(-1), reduction="sum").to(dtype)
            for alt, hint in [(everywhere, say("masked_lm.loss_everywhere")), (summed, say("masked_lm.loss_summed"))]:
                if torch.allclose(got.detach().double(), alt.double(), rtol=1e-5):
                    raise GradingError(say("masked_lm.loss_wrong", what=what, hint=hint))
        expect_tensor(got, want, what)
        if dtype == torch.float32 and layout != "none":
            lg = logits.detach().clone().requires_grad_(True)
            out = call_student(student_fn, lg, lab, name="mlm_loss", reference=mlm_loss)
            if not isinstance(out, torch.Tensor) or not out.requires_grad:
                raise GradingError(say("masked_lm.loss_no_grad", what=what))
    passed(say("masked_lm.loss_passed", n=len(cases), device=device.type))


guard_checkers(globals())  # warnings and stderr while checking cost no points (core.checker)
