"""Messages of grading/masked_lm.py (notebook 01)."""

MESSAGES = {
    # ---------------------------------------------------------------- check_mlm_head
    "masked_lm.head_not_module": {
        "en": "MLMHead(config, word_embeddings) should build an nn.Module, got a {type}.",
        "zh": "MLMHead(config, word_embeddings) 应该构造出一个 nn.Module，得到的是 {type}。",
    },
    "masked_lm.head_no_attr": {
        "en": "Your MLMHead has no attribute `self.{attr}`; the instructions ask for `self.transform` (with `.dense` "
              "and `.LayerNorm`), `self.decoder` and `self.bias`.",
        "zh": "你的 MLMHead 没有属性 `self.{attr}`；题目要求有 `self.transform`（含 `.dense` 和 `.LayerNorm`）、"
              "`self.decoder` 和 `self.bias`。",
    },
    "masked_lm.head_no_transform_attr": {
        "en": "Your MLMHead's `self.transform` has no `.{attr}`; give the transform the submodules `dense` "
              "(nn.Linear(hidden, hidden)) and `LayerNorm` (nn.LayerNorm(hidden, eps=...)).",
        "zh": "你的 MLMHead 的 `self.transform` 没有 `.{attr}`；请给 transform 加上子模块 `dense`"
              "（nn.Linear(hidden, hidden)）和 `LayerNorm`（nn.LayerNorm(hidden, eps=...)）。",
    },
    "masked_lm.head_copied_not_tied": {
        "en": "Your decoder weight has the values of the word embeddings but it is copied, not tied: it is a different "
              "tensor, so training would update the two separately. Assign the Parameter itself: "
              "`self.decoder.weight = word_embeddings.weight` (no .clone(), .data or nn.Parameter(...) around it).",
        "zh": "你的解码器权重与词嵌入数值相同，但它是复制的，不是共享的：它是另一个张量，训练时两者会被分别更新。"
              "请直接赋值这个 Parameter 本身：`self.decoder.weight = word_embeddings.weight`"
              "（外面不要套 .clone()、.data 或 nn.Parameter(...)）。",
    },
    "masked_lm.head_not_tied": {
        "en": "Your decoder weight is not tied to the word embeddings: `head.decoder.weight is word_embeddings.weight` "
              "is False (it is a new matrix of shape {shape}). Assign `self.decoder.weight = word_embeddings.weight`.",
        "zh": "你的解码器权重没有与词嵌入共享：`head.decoder.weight is word_embeddings.weight` 为 False"
              "（它是一个形状为 {shape} 的新矩阵）。请赋值 `self.decoder.weight = word_embeddings.weight`。",
    },
    "masked_lm.head_bias_shape": {
        "en": "`self.bias` should be an nn.Parameter of shape ({vocab},) (one per word of the vocabulary); got {type} "
              "of shape {shape}.",
        "zh": "`self.bias` 应该是形状为 ({vocab},) 的 nn.Parameter（词表中每个词一个）；得到的是形状为 {shape} 的 "
              "{type}。",
    },
    "masked_lm.head_two_biases": {
        "en": "Your decoder has its own bias in addition to `self.bias`, so two biases are added. Create the decoder "
              "with `nn.Linear(hidden, vocab, bias=False)`.",
        "zh": "除了 `self.bias`，你的解码器还有自己的偏置，于是加了两次偏置。请用 "
              "`nn.Linear(hidden, vocab, bias=False)` 创建解码器。",
    },
    "masked_lm.head_transform_shape": {
        "en": "Your transform's {module}.{attr} has shape {got}, expected {want}.",
        "zh": "你的 transform 中 {module}.{attr} 的形状是 {got}，应为 {want}。",
    },
    "masked_lm.head_cannot_copy": {
        "en": "Could not give your MLMHead the reference weights: {error}",
        "zh": "无法把参考权重赋给你的 MLMHead：{error}",
    },
    "masked_lm.diag_softmax": {
        "en": "every row is non-negative and sums to 1, so you applied a softmax: return the logits (no softmax).",
        "zh": "每一行都非负且和为 1，说明你做了 softmax：请返回 logits（不做 softmax）。",
    },
    "masked_lm.diag_no_bias": {
        "en": "they equal the reference without `+ self.bias`: add the output bias.",
        "zh": "它们等于去掉 `+ self.bias` 的参考结果：请加上输出偏置。",
    },
    "masked_lm.diag_norm_first": {
        "en": "they equal LayerNorm applied before the activation: the order is dense → activation → LayerNorm.",
        "zh": "它们等于在激活函数之前做 LayerNorm 的结果：正确顺序是 dense → 激活函数 → LayerNorm。",
    },
    "masked_lm.diag_no_norm": {
        "en": "they equal the reference without the LayerNorm: the transform ends with `self.LayerNorm(...)` "
              "(nn.LayerNorm(hidden, eps=config.layer_norm_eps)).",
        "zh": "它们等于去掉 LayerNorm 的参考结果：transform 的最后一步是 `self.LayerNorm(...)`"
              "（nn.LayerNorm(hidden, eps=config.layer_norm_eps)）。",
    },
    "masked_lm.diag_no_activation": {
        "en": "they equal the reference without the activation: apply config.hidden_act ({act}) after dense.",
        "zh": "它们等于去掉激活函数的参考结果：请在 dense 之后应用 config.hidden_act（{act}）。",
    },
    "masked_lm.tanh_gelu": {
        "en": "tanh-approximated gelu",
        "zh": "tanh 近似的 gelu",
    },
    "masked_lm.diag_other_activation": {
        "en": "they equal the head with {name} as the activation; the config asks for hidden_act={act}: pick it from "
              "the config (`ACT2FN[config.hidden_act]`), do not hard-code one.",
        "zh": "它们等于以 {name} 为激活函数的任务头；而配置要求 hidden_act={act}：请从配置中取激活函数"
              "（`ACT2FN[config.hidden_act]`），不要写死。",
    },
    "masked_lm.diag_eps": {
        "en": "they equal a LayerNorm with eps={eps:g}; the config's layer_norm_eps is {config_eps:g}: pass "
              "`eps=config.layer_norm_eps` to nn.LayerNorm.",
        "zh": "它们等于 eps={eps:g} 的 LayerNorm；而配置的 layer_norm_eps 是 {config_eps:g}：请把 "
              "`eps=config.layer_norm_eps` 传给 nn.LayerNorm。",
    },
    "masked_lm.head_what": {
        "en": "MLMHead(config with hidden_size={hidden}, vocab_size={vocab}, hidden_act={act}) on sequence_output of "
              "shape {shape} ({dtype})",
        "zh": "MLMHead（配置 hidden_size={hidden}、vocab_size={vocab}、hidden_act={act}）在形状为 {shape}"
              "（{dtype}）的 sequence_output 上",
    },
    "masked_lm.logits_wrong": {
        "en": "The logits of {what} are wrong: {hint}",
        "zh": "{what}的 logits 不对：{hint}",
    },
    "masked_lm.logits_of": {
        "en": "The logits of {what}",
        "zh": "{what}的 logits",
    },
    "masked_lm.masked_positions_shape": {
        "en": "With masked_positions (a bool mask selecting {k} positions) your head returned shape {shape}; it should "
              "return only the selected rows, shape ({k}, {vocab}) — select `sequence_output[masked_positions]` before "
              "the transform.",
        "zh": "传入 masked_positions（选中 {k} 个位置的 bool 掩码）时，你的任务头返回的形状是 {shape}；它应当只返回"
              "被选中的行，形状为 ({k}, {vocab})——请在 transform 之前先取 `sequence_output[masked_positions]`。",
    },
    "masked_lm.logits_of_selected": {
        "en": "The logits of {what} with masked_positions selecting {k} positions",
        "zh": "{what}、masked_positions 选中 {k} 个位置时的 logits",
    },
    "masked_lm.head_no_grad": {
        "en": "The logits of your MLMHead carry no gradient: do not use .detach(), .data or torch.no_grad() in forward.",
        "zh": "你的 MLMHead 输出的 logits 没有梯度：forward 中不要使用 .detach()、.data 或 torch.no_grad()。",
    },
    "masked_lm.head_no_embedding_grad": {
        "en": "No gradient reached the word-embedding matrix through your decoder: use `self.decoder(...)` (or "
              "`self.decoder.weight`) without .detach() or torch.no_grad().",
        "zh": "没有梯度经过你的解码器传到词嵌入矩阵：请使用 `self.decoder(...)`（或 `self.decoder.weight`），"
              "不要用 .detach() 或 torch.no_grad()。",
    },
    "masked_lm.head_passed": {
        "en": "MLMHead is tied to the word embeddings and matches the reference ({n} comparisons on {device})",
        "zh": "MLMHead 与词嵌入共享权重，并与参考实现一致（在 {device} 上比较了 {n} 次）",
    },
    # ---------------------------------------------------------------- check_mask_tokens
    "masked_lm.mask_not_pair": {
        "en": "mask_tokens should return a pair (masked_input_ids, labels); got {type}{length}.",
        "zh": "mask_tokens 应返回一对 (masked_input_ids, labels)；得到的是 {type}{length}。",
    },
    "masked_lm.of_length": {
        "en": " of length {n}",
        "zh": "（长度 {n}）",
    },
    "masked_lm.mask_not_tensor": {
        "en": "mask_tokens returned {name} as a {type}; it should be a torch.Tensor.",
        "zh": "mask_tokens 返回的 {name} 是 {type}；它应该是 torch.Tensor。",
    },
    "masked_lm.mask_shape": {
        "en": "mask_tokens returned {name} of shape {got}; expected the shape of input_ids, {want}.",
        "zh": "mask_tokens 返回的 {name} 形状是 {got}；应与 input_ids 的形状相同，即 {want}。",
    },
    "masked_lm.mask_dtype": {
        "en": "mask_tokens returned {name} of dtype {dtype}; expected torch.int64 (token ids).",
        "zh": "mask_tokens 返回的 {name} 的 dtype 是 {dtype}；应为 torch.int64（词元 id）。",
    },
    "masked_lm.mask_device": {
        "en": "mask_tokens returned {name} on {got}; expected {want} (the device of input_ids).",
        "zh": "mask_tokens 返回的 {name} 位于 {got}；应位于 {want}（input_ids 所在的设备）。",
    },
    "masked_lm.mask_inputs": {
        "en": "input_ids (or special_tokens_mask)",
        "zh": "input_ids（或 special_tokens_mask）",
    },
    "masked_lm.mask_labels_everywhere": {
        "en": "labels has a token id at {share:.0%} of the positions; labels must be -100 at every position that was "
              "not chosen (only ~15% of the real tokens).",
        "zh": "labels 在 {share:.0%} 的位置上都有词元 id；凡是没有被选中的位置，labels 都必须是 -100"
              "（被选中的只占真实词元的约 15%）。",
    },
    "masked_lm.kind_padding": {
        "en": "padding",
        "zh": "填充",
    },
    "masked_lm.kind_special": {
        "en": "a special token ([CLS]/[SEP])",
        "zh": "特殊词元（[CLS]/[SEP]）",
    },
    "masked_lm.mask_chose_special": {
        "en": "mask_tokens chose position {position}, which is {kind}: positions where special_tokens_mask is True must "
              "never be chosen (set their probability to 0 before sampling).",
        "zh": "mask_tokens 选中了位置 {position}，它是{kind}：special_tokens_mask 为 True 的位置绝不能被选中"
              "（采样前把它们的概率设为 0）。",
    },
    "masked_lm.mask_label_not_original": {
        "en": "At chosen positions the label must be the ORIGINAL token id (from input_ids), not the masked or random id.",
        "zh": "被选中位置的标签必须是原来的词元 id（取自 input_ids），而不是替换成的 [MASK] 或随机 id。",
    },
    "masked_lm.mask_labels_unchosen": {
        "en": "labels must be -100 at every position that was not chosen.",
        "zh": "凡是没有被选中的位置，labels 都必须是 -100。",
    },
    "masked_lm.mask_changed_unchosen": {
        "en": "masked_input_ids differs from input_ids at position {position}, whose label is -100: only chosen "
              "positions (those with a label) may change.",
        "zh": "masked_input_ids 在位置 {position} 与 input_ids 不同，而该位置的标签是 -100：只有被选中的位置"
              "（有标签的位置）才可以改变。",
    },
    "masked_lm.rate_flipped": {
        "en": " (that is about 1 - {prob}: the comparison is the wrong way round; choose a position when its uniform "
              "number is BELOW mlm_probability)",
        "zh": "（这大约是 1 - {prob}：比较方向写反了；应在某位置的均匀随机数小于 mlm_probability 时选中它）",
    },
    "masked_lm.rate_all_positions": {
        "en": " (too many: {share:.1%} of ALL positions, special tokens and padding included, is what matches "
              "mlm_probability; the rate is per real token)",
        "zh": "（太多了：你的选中数约占全部位置（含特殊词元和填充）的 {share:.1%}，这才与 mlm_probability 相符；"
              "而比例应按真实词元计算）",
    },
    "masked_lm.rate_too_few": {
        "en": " (too few tokens were chosen)",
        "zh": "（选中的词元太少）",
    },
    "masked_lm.rate_too_many": {
        "en": " (too many tokens were chosen)",
        "zh": "（选中的词元太多）",
    },
    "masked_lm.mask_rate": {
        "en": "mask_tokens chose {rate:.1%} of the {n} eligible tokens with mlm_probability={prob}; expected {prob:.0%} "
              "(between {lo:.1%} and {hi:.1%}){hint}.",
        "zh": "mlm_probability={prob} 时，mask_tokens 在 {n} 个可选词元中选中了 {rate:.1%}；应为 {prob:.0%}"
              "（在 {lo:.1%} 到 {hi:.1%} 之间）{hint}。",
    },
    "masked_lm.share_unchanged": {
        "en": "unchanged",
        "zh": "保持不变",
    },
    "masked_lm.share_random": {
        "en": "random",
        "zh": "随机词元",
    },
    "masked_lm.mask_shares": {
        "en": "Of the {n} chosen tokens: {got}; expected about 80% [MASK], 10% random, 10% unchanged ({key} should be "
              "between {lo:.1%} and {hi:.1%}). Draw one uniform number per position and split it 0.8 / 0.1 / 0.1, or "
              "take 50% of the non-[MASK] ones for random tokens.",
        "zh": "在 {n} 个被选中的词元中：{got}；应约为 80% [MASK]、10% 随机词元、10% 保持不变"
              "（{key} 应在 {lo:.1%} 到 {hi:.1%} 之间）。请为每个位置抽一个均匀随机数并按 0.8 / 0.1 / 0.1 划分，"
              "或在未替换为 [MASK] 的位置中取 50% 换成随机词元。",
    },
    "masked_lm.mask_random_range": {
        "en": "Random replacement ids must be in [0, vocab_size={vocab}); got values from {lo} to {hi}.",
        "zh": "随机替换的 id 必须在 [0, vocab_size={vocab}) 之内；得到的值从 {lo} 到 {hi}。",
    },
    "masked_lm.mask_random_few_ids": {
        "en": "The {n} random replacements use only {k} different ids; draw each one uniformly from [0, vocab_size) "
              "(torch.randint).",
        "zh": "{n} 个随机替换只用了 {k} 个不同的 id；请让每一个都从 [0, vocab_size) 中均匀抽取（torch.randint）。",
    },
    "masked_lm.mask_not_reproducible": {
        "en": "Two calls with generators seeded the same gave different results: pass `generator=generator` to every "
              "random function (torch.rand, torch.randint, ...).",
        "zh": "用相同种子的生成器调用两次，结果却不同：请把 `generator=generator` 传给每一个随机函数"
              "（torch.rand、torch.randint 等）。",
    },
    "masked_lm.mask_seed_ignored": {
        "en": "Generators with different seeds gave the same masks: the randomness must come from the `generator` "
              "argument.",
        "zh": "不同种子的生成器给出了相同的掩码：随机性必须来自参数 `generator`。",
    },
    "masked_lm.mask_special_row": {
        "en": "A row whose tokens are all special/padding got a label: such a row must stay untouched.",
        "zh": "一行全是特殊词元/填充，却得到了标签：这样的行必须保持原样。",
    },
    "masked_lm.mask_zero_probability": {
        "en": "With mlm_probability=0 nothing should be chosen (labels all -100, input unchanged).",
        "zh": "mlm_probability=0 时不应选中任何位置（labels 全为 -100，输入不变）。",
    },
    "masked_lm.mask_passed": {
        "en": "mask_tokens: rates within statistical bounds, special tokens and padding untouched, labels right, input "
              "unchanged, reproducible ({n} batch(es) on {device})",
        "zh": "mask_tokens：比例在统计范围内，特殊词元和填充未被改动，标签正确，输入不变，结果可复现"
              "（{device} 上 {n} 个批次）",
    },
    # ---------------------------------------------------------------- check_mlm_loss
    "masked_lm.loss_what_full": {
        "en": "mlm_loss on logits {shape} and labels {labels} (full layout)",
        "zh": "mlm_loss 在 logits {shape} 和 labels {labels} 上（完整布局）",
    },
    "masked_lm.loss_what_masked": {
        "en": "mlm_loss on logits {shape} (only the {n} masked positions) and labels {labels} (masked layout)",
        "zh": "mlm_loss 在 logits {shape}（只含 {n} 个被掩码的位置）和 labels {labels} 上（掩码位置布局）",
    },
    "masked_lm.loss_input": {
        "en": "An input of mlm_loss",
        "zh": "mlm_loss 的某个输入",
    },
    "masked_lm.loss_what_none": {
        "en": "{what} when no position is labelled",
        "zh": "{what}，且没有任何位置带标签",
    },
    "masked_lm.loss_nan": {
        "en": "{what} returned {value}; with nothing to predict return 0 (e.g. `logits.sum() * 0.0`), not the NaN of "
              "an empty mean.",
        "zh": "{what}时返回了 {value}；没有需要预测的位置时应返回 0（例如 `logits.sum() * 0.0`），"
              "而不是空集合求平均得到的 NaN。",
    },
    "masked_lm.loss_everywhere": {
        "en": "it averages over every position: ignore positions whose label is -100 (`ignore_index=-100`).",
        "zh": "它在所有位置上取平均：请忽略标签为 -100 的位置（`ignore_index=-100`）。",
    },
    "masked_lm.loss_summed": {
        "en": "it is the sum over positions: take the mean over labelled positions.",
        "zh": "它是对各位置求和：请对带标签的位置取平均。",
    },
    "masked_lm.loss_wrong": {
        "en": "{what} is wrong: {hint}",
        "zh": "{what}的结果不对：{hint}",
    },
    "masked_lm.loss_no_grad": {
        "en": "{what} returned a loss with no gradient: do not use .item(), .detach() or torch.no_grad() inside "
              "mlm_loss.",
        "zh": "{what}返回的损失没有梯度：mlm_loss 中不要使用 .item()、.detach() 或 torch.no_grad()。",
    },
    "masked_lm.loss_passed": {
        "en": "mlm_loss matches the reference in the full and the masked layouts ({n} cases on {device})",
        "zh": "mlm_loss 在完整布局和掩码位置布局下都与参考实现一致（{device} 上 {n} 个用例）",
    },
}
