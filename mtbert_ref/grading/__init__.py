"""Grading: the checker core (:mod:`.core`) and one checker module per notebook.

The checkers are what the notebooks' test cells call. They import the reference answers from
:mod:`mtbert_ref.modeling` and :mod:`mtbert_ref.lessons`; nothing outside this package imports from it.

  core              GradingError, call_student, expect_tensor, expect_equal, time limits, reference detection
  anatomy           00  check_masked_mean_pool, check_count_parameters, check_head_parameters
  masked_lm         01  check_mlm_head, check_mask_tokens, check_mlm_loss
  pretraining       02  check_nsp_head, check_make_nsp_pairs, check_pretraining_loss, check_causal_mask, ...
  qa                03  check_qa_head, check_prepare_features, check_decode_spans, check_squad_em_f1
  multiple_choice   04  check_mc_head, check_encode_choices, check_mc_accuracy
  classification    05  check_classification_head, check_classification_loss, check_training_step, check_macro_f1
  multilabel        06  check_multilabel_loss_and_predict, check_tune_thresholds, check_fixed_model
  multitask         07  check_build_heads, check_multitask_loss, check_task_sampler
  grow              08  check_grow_linear, check_init_strategy, check_replay_mix
  speed             09  check_pad_batch, check_bucket_batches
  concepts          00–09  check_concept: one concept question per notebook (answers kept as salted digests)
"""
from .core import GradingError, passed  # noqa: F401
