"""mtbert_ref — the reference package of the mtbert course ("BERT heads, from MLM to multi-task").

One module per idea:
  backbone   load an encoder + tokenizer by name (embedded all-MiniLM-L6-v2 by default, offline)
  device     pick a device, seed, autocast, comparison tolerances, under_grading()
  checking   the grading machinery (GradingError, call_student, expect_tensor, ...)
  anatomy    notebook 00: pooling, parameter counting, the transformers head zoo
  plots      shared matplotlib figures
"""
__version__ = "0.1.0"

from .backbone import DEFAULT_MODEL, BackboneNotFoundError, load_encoder, load_tokenizer, tiny_bert_config  # noqa: F401
from .device import autocast, pick_device, seed_everything, under_grading  # noqa: F401
