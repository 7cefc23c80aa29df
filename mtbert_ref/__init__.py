"""mtbert_ref — the reference package of the mtbert course ("BERT heads, from MLM to multi-task").

One module per idea:
  backbone   load an encoder + tokenizer by name (embedded all-MiniLM-L6-v2 by default, offline)
  device     pick a device, seed, autocast, comparison tolerances, under_grading()
  checking   the grading machinery (GradingError, call_student, expect_tensor, ...)
  data       dynamic padding, length bucketing, shipped data sets
  trainer    the course's device-agnostic training loop
  plots      shared matplotlib figures
  anatomy          00  pooling, parameter counting, the transformers head zoo
  mlm              01  masked-LM head (tied decoder), 80/10/10 masking, MLM loss
  nsp              02  next-sentence head and sentence pairs
  pretraining      02  MLM + NSP (BertForPreTraining)
  causal_lm        02  BERT as a causal LM (BertLMHeadModel)
  qa               03  extractive QA: start/end head, windows, span decoding, SQuAD EM/F1
  multiple_choice  04  one score per (question, choice)
  classification   05  sequence classification by problem type, class weights, macro-F1
  chinese          05  a character vocabulary and a small BERT for Chinese
  multilabel       06  sigmoid + BCE-with-logits, thresholds, find-the-bugs
  multitask        07  N heads on one encoder, task-masked loss, task sampling (a PreTrainedModel)
  grow             08  growing a classifier's label set without changing old logits
  speed            09  padding collator, bucketing, timing, feature caching
"""
__version__ = "0.1.0"

from .backbone import DEFAULT_MODEL, BackboneNotFoundError, load_encoder, load_tokenizer, tiny_bert_config  # noqa: F401
from .device import autocast, pick_device, seed_everything, under_grading  # noqa: F401
