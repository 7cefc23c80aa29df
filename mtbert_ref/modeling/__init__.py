"""Modeling only, in the shape of transformers' ``modeling_bert.py``: heads, losses, weight mapping, models.

Shared pieces (one copy each):
  pooling          masked mean / [CLS] / pooler pooling
  losses           one loss per problem type (regression, single_label_classification, multi_label_classification)
  weights          the weight mapping from/to transformers (prefix rules)
  init             transformers' initialisation of a new head; a classifier's bias at the label prior
  base             CourseModel: self.bert + a head as a PreTrainedModel, from_hf / to_hf, save with tokenizer + card

One file per head and model (the graded reference answers that are modules, losses or model maths):
  mlm              01  MLM transform, prediction head with the tied decoder, masking, mlm_loss, MtBertForMaskedLM
  nsp              02  NSP head, nsp_loss, MtBertForNextSentencePrediction
  pretraining      02  MLM + NSP loss, MtBertForPreTraining
  causal_lm        02  causal mask, label shift, causal LM loss, MtBertForCausalLM
  qa               03  start/end span head, qa_loss, MtBertForQuestionAnswering, span decoding
  multiple_choice  04  one score per (question, choice), MtBertForMultipleChoice
  classification   05  ClassificationHead, classification_loss, MtBertForSequenceClassification
  multilabel       06  MtBertForMultiLabelClassification, multilabel_loss, predict_labels
  tasks            07  TaskSpec, make_tasks, build_heads, packed labels
  multitask        07  N heads on one encoder, task-masked loss (registered with the Auto classes)
  grow             08  GrownLinear (old logits bit-identical), grow_linear, grow_classifier, the reload hook
  grow_rows        08  new rows' init (random, zeros, mean, imprint), freeze_rows / unfreeze_rows
Every model is named ``MtBertFor<X>`` after the transformers class it mirrors (``MtBertForMaskedLM`` ↔
``BertForMaskedLM``, ...), holds its encoder as ``self.bert``, returns a transformers ``ModelOutput`` and is a
CourseModel (``to_hf()``, ``from_hf``, saved as a transformers checkpoint); ``MtBertForMultiTask`` has no
transformers twin and is a ``PreTrainedModel`` of its own config, registered with the Auto classes.
"""
from .losses import KIND_TO_PROBLEM_TYPE, PROBLEM_TYPES, infer_problem_type, problem_type_loss  # noqa: F401
from .pooling import masked_mean_pool, pool  # noqa: F401
