"""Messages of grading/anatomy.py (notebook 00)."""

MESSAGES = {
    "anatomy.pool_input": {
        "en": "An input of masked_mean_pool",
        "zh": "masked_mean_pool 的某个输入",
    },
    "anatomy.pool_what": {
        "en": "masked_mean_pool on last_hidden_state of shape {shape} ({dtype}) with an attention_mask of dtype {mask}",
        "zh": "masked_mean_pool 在形状为 {shape}（{dtype}）的 last_hidden_state 和 dtype 为 {mask} 的 attention_mask 上的结果",
    },
    "anatomy.pool_nan": {
        "en": "masked_mean_pool returned NaN/inf for a row whose attention_mask is all zeros; clamp the token count to "
              "at least 1 (expected a row of zeros).",
        "zh": "对 attention_mask 全为 0 的一行，masked_mean_pool 返回了 NaN/inf；请把词元数下限截断为 1"
              "（期望结果是一行 0）。",
    },
    "anatomy.pool_padded_row": {
        "en": "masked_mean_pool with a fully padded row",
        "zh": "含一整行填充的 masked_mean_pool 结果",
    },
    "anatomy.pool_passed": {
        "en": "masked_mean_pool matches the reference on {n} padded batch(es) on {device}",
        "zh": "masked_mean_pool 在 {device} 上的 {n} 个带填充的批次上与参考实现一致",
    },
    "anatomy.case_linear": {
        "en": "nn.Linear(3, 4)",
        "zh": "nn.Linear(3, 4)",
    },
    "anatomy.case_sequential": {
        "en": "a small nn.Sequential",
        "zh": "一个小的 nn.Sequential",
    },
    "anatomy.case_frozen_all": {
        "en": "a model whose first layer is frozen (trainable_only=False)",
        "zh": "第一层被冻结的模型（trainable_only=False）",
    },
    "anatomy.case_frozen_trainable": {
        "en": "a model whose first layer is frozen (trainable_only=True)",
        "zh": "第一层被冻结的模型（trainable_only=True）",
    },
    "anatomy.case_tied_mlm": {
        "en": "a tiny BertForMaskedLM (decoder weight tied to the word embeddings)",
        "zh": "一个微型 BertForMaskedLM（解码器权重与词嵌入共享）",
    },
    "anatomy.case_frozen_encoder": {
        "en": "a tiny BertForSequenceClassification with a frozen encoder (trainable_only=True)",
        "zh": "编码器被冻结的微型 BertForSequenceClassification（trainable_only=True）",
    },
    "anatomy.count_frozen_too": {
        "en": "That counts the frozen parameters too: with trainable_only=True count only those with `p.requires_grad`.",
        "zh": "这把冻结的参数也算进去了：trainable_only=True 时只统计 `p.requires_grad` 为真的参数。",
    },
    "anatomy.count_only_frozen": {
        "en": "That is the number of FROZEN parameters: the condition is the wrong way round (count those with "
              "`p.requires_grad`).",
        "zh": "这是被冻结参数的个数：条件写反了（应统计 `p.requires_grad` 为真的参数）。",
    },
    "anatomy.count_shared_twice": {
        "en": "A parameter shared by two layers (the tied decoder) is one tensor: count it once — `module.parameters()` "
              "yields it once, `named_parameters(remove_duplicate=False)` twice.",
        "zh": "两层共享的参数（权重共享的解码器）是同一个张量，只能算一次——`module.parameters()` 只给出它一次，"
              "`named_parameters(remove_duplicate=False)` 会给出两次。",
    },
    "anatomy.count_too_few": {
        "en": "That is {n} too few: count every element of every parameter tensor (`p.numel()`), biases included.",
        "zh": "少了 {n} 个：请统计每个参数张量的全部元素（`p.numel()`），偏置也要算。",
    },
    "anatomy.count_too_many": {
        "en": "That is {n} too many: count each parameter tensor once, by its number of elements (`p.numel()`).",
        "zh": "多了 {n} 个：每个参数张量只算一次，按元素个数（`p.numel()`）计。",
    },
    "anatomy.count_tensor": {
        "en": "count_parameters returned a torch.Tensor for {desc}; return a Python int (use `p.numel()`, which is an "
              "int, or `.item()`).",
        "zh": "count_parameters 对{desc}返回了 torch.Tensor；请返回 Python int（用本身就是 int 的 `p.numel()`，"
              "或 `.item()`）。",
    },
    "anatomy.count_what": {
        "en": "count_parameters on {desc}",
        "zh": "count_parameters 在{desc}上的结果",
    },
    "anatomy.count_passed": {
        "en": "count_parameters is right on {n} modules",
        "zh": "count_parameters 在 {n} 个模块上都正确",
    },
    "anatomy.head_tensor": {
        "en": "head_parameters returned a torch.Tensor; return a Python int.",
        "zh": "head_parameters 返回了 torch.Tensor；请返回 Python int。",
    },
    "anatomy.head_tied": {
        "en": "That counts the tied decoder weight: the MLM decoder's weight *is* the word-embedding matrix, it belongs "
              "to the encoder. Compare parameters by identity (`id(p)`), not by name.",
        "zh": "这把共享的解码器权重也算进去了：MLM 解码器的权重*就是*词嵌入矩阵，它属于编码器。"
              "请按对象身份（`id(p)`）而不是按名字比较参数。",
    },
    "anatomy.head_everything": {
        "en": "That is every parameter of the model: leave out those of `model.bert`.",
        "zh": "这是模型的全部参数：请去掉 `model.bert` 的参数。",
    },
    "anatomy.head_too_few": {
        "en": "That is {n} too few: count every parameter of the model that is not one of model.bert's.",
        "zh": "少了 {n} 个：请统计模型中所有不属于 model.bert 的参数。",
    },
    "anatomy.head_too_many": {
        "en": "That is {n} too many: a parameter of model.bert (even when shared) is not a head parameter.",
        "zh": "多了 {n} 个：model.bert 的参数（即使是共享的）不是任务头的参数。",
    },
    "anatomy.head_what": {
        "en": "head_parameters on a tiny {name}",
        "zh": "head_parameters 在微型 {name} 上的结果",
    },
    "anatomy.head_passed": {
        "en": "head_parameters is right on {n} head classes",
        "zh": "head_parameters 在 {n} 个任务头类上都正确",
    },
}
