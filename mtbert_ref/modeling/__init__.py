"""Modeling only, in the shape of transformers' ``modeling_bert.py``: heads, losses, weight mapping, models.

Shared pieces (one copy each):
  pooling          masked mean / [CLS] / pooler pooling
  losses           one loss per problem type (regression, single_label_classification, multi_label_classification)
  weights          the weight mapping from/to transformers (prefix rules)
  init             transformers' initialisation of a new head; a classifier's bias at the label prior
  base             CourseModel: self.bert + a head as a PreTrainedModel, from_hf / to_hf, save with tokenizer + card

One file per head and model (the graded reference answers live here):
  mlm              01  MLM transform, prediction head with the tied decoder, masking, mlm_loss, BertForMaskedLM
  nsp              02  NSP head, BertForNextSentencePrediction
  pretraining      02  MLM + NSP (BertForPreTraining)
  causal_lm        02  BERT as a causal LM (BertLMHeadModel)
  qa               03  start/end span head (BertForQuestionAnswering), span decoding
  multiple_choice  04  one score per (question, choice) (BertForMultipleChoice)
  classification   05  sequence classification by problem type (BertForSequenceClassification)
  multilabel       06  multi-label classification: sigmoid + BCE, thresholds
  multitask        07  N heads on one encoder, task-masked loss (registered with the Auto classes)
  grow             08  growing a classifier's label set without changing the old logits
"""
from .losses import KIND_TO_PROBLEM_TYPE, PROBLEM_TYPES, infer_problem_type, problem_type_loss  # noqa: F401
from .pooling import masked_mean_pool, pool  # noqa: F401
