"""mtbert_ref — the reference package of the mtbert course ("BERT heads, from MLM to multi-task").

Layout (docs/STRUCTURE.md says what lives where and what a student may read):
  backbone, device, data, trainer, plots   shared infrastructure
  modeling/   heads, losses (one per problem type), the weight mapping, pooling, init, the models
  lessons/    per-notebook helpers: data, features, metrics, demos, baselines
  grading/    the checker core and one checker module per notebook (nothing outside grading/ imports it)
"""
__version__ = "0.1.0"

from .backbone import DEFAULT_MODEL, BackboneNotFoundError, load_encoder, load_tokenizer, tiny_bert_config  # noqa: F401
from .device import autocast, pick_device, seed_everything, under_grading  # noqa: F401
from .modeling import multitask as _multitask  # noqa: F401,E402  registers the multi-task model with the Auto classes
from .modeling import grow as _grow  # noqa: F401,E402  from_pretrained rebuilds grown heads (config.grown_heads)
