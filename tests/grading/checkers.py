"""Every graded exercise's checker, as the notebooks' test cells call it: grade id -> (checker module in
mtbert_ref.grading, checker, the names the solution cell defines, fixtures the test cell passes besides device).

The names are also the names of the references, which each checker module imports: the hidden-case test of
test_hidden_cases.py gives a fresh copy of those references to the checker, the catalogue tests
(tests/catalogue) the students' alternative answers."""
import importlib
import inspect

CHECKS = {
    "masked_mean_pool": ("anatomy", "check_masked_mean_pool", ("masked_mean_pool",), ()),
    "count_parameters": ("anatomy", "check_count_parameters", ("count_parameters",), ()),
    "head_parameters": ("anatomy", "check_head_parameters", ("head_parameters",), ()),
    "mlm_head": ("masked_lm", "check_mlm_head", ("MLMHead",), ()),
    "mask_tokens": ("masked_lm", "check_mask_tokens", ("mask_tokens",), ()),
    "mlm_loss": ("masked_lm", "check_mlm_loss", ("mlm_loss",), ()),
    "nsp_head": ("pretraining", "check_nsp_head", ("NSPHead",), ()),
    "make_nsp_pairs": ("pretraining", "check_make_nsp_pairs", ("make_nsp_pairs",), ()),
    "pretraining_loss": ("pretraining", "check_pretraining_loss", ("pretraining_loss",), ()),
    "causal_mask": ("pretraining", "check_causal_mask", ("causal_attention_mask",), ()),
    "shift_labels": ("pretraining", "check_shift_labels", ("shift_labels",), ()),
    "ex_qa_head": ("qa", "check_qa_head", ("QAHead",), ()),
    "ex_prepare_features": ("qa", "check_prepare_features", ("prepare_features",), ("tokenizer",)),
    "ex_decode_spans": ("qa", "check_decode_spans", ("decode_spans",), ("tokenizer",)),
    "ex_squad_em_f1": ("qa", "check_squad_em_f1", ("squad_em_f1",), ()),
    "mc_logits": ("multiple_choice", "check_mc_head", ("multiple_choice_logits",), ()),
    "encode_choices": ("multiple_choice", "check_encode_choices", ("encode_choices",), ("tokenizer",)),
    "mc_accuracy": ("multiple_choice", "check_mc_accuracy", ("mc_accuracy",), ()),
    "ex1_head": ("classification", "check_classification_head", ("ClassificationHead",), ()),
    "ex2_loss": ("classification", "check_classification_loss", ("classification_loss",), ()),
    "ex3_step": ("classification", "check_training_step", ("training_step",), ()),
    "ex4_f1": ("classification", "check_macro_f1", ("macro_f1",), ()),
    "ex1_loss_predict": ("multilabel", "check_multilabel_loss_and_predict", ("multilabel_loss", "predict_labels"), ()),
    "ex2_thresholds": ("multilabel", "check_tune_thresholds", ("tune_thresholds",), ()),
    "ex3_fixed_model": ("multilabel", "check_fixed_model", ("DebtagsTagger",), ()),
    "build_heads": ("multitask", "check_build_heads", ("build_heads",), ()),
    "multitask_loss": ("multitask", "check_multitask_loss", ("multitask_loss",), ()),
    "task_sampler": ("multitask", "check_task_sampler", ("TaskSampler",), ()),
    "triage_heads": ("design", "check_triage_heads", ("TriageHeads",), ()),
    "grow_linear": ("grow", "check_grow_linear", ("grow_linear",), ()),
    "imprint_rows": ("grow", "check_init_strategy", ("imprint_rows",), ()),
    "replay_mix": ("grow", "check_replay_mix", ("replay_mix",), ()),
    "pad_batch": ("speed", "check_pad_batch", ("pad_batch",), ()),
    "bucket_batches": ("speed", "check_bucket_batches", ("bucket_batches",), ()),
}


def module_of(grade_id: str):
    return importlib.import_module(f"mtbert_ref.grading.{CHECKS[grade_id][0]}")


def run_check(grade_id: str, answers: list, fixtures, hidden: bool) -> None:
    """Call grade_id's checker on ``answers`` (the objects named in CHECKS) as its test cell does, on the CPU;
    ``fixtures(name)`` gives the extra arguments (a tokenizer)."""
    _, checker_name, _, extra = CHECKS[grade_id]
    checker = getattr(module_of(grade_id), checker_name)
    kwargs = {"hidden_tests": hidden}
    if "device" in inspect.signature(checker).parameters:
        kwargs["device"] = "cpu"
    checker(*answers, *(fixtures(e) for e in extra), **kwargs)
