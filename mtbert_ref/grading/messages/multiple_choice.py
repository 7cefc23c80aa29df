"""Messages of grading/multiple_choice.py (notebook 04)."""

MESSAGES = {
    # ---------------------------------------------------------------- check_mc_head
    "multiple_choice.diag_mixed_dims": {
        "en": "These are the right scores in the wrong places: you mixed the batch and choice dimensions. Flatten with "
              "`input_ids.view(batch * num_choices, length)` (no transpose/permute) and reshape the scores with "
              "`.view(batch, num_choices)`, so that row b*num_choices + c is choice c of question b.",
        "zh": "得分本身是对的，但位置错了：你把批次维和选项维弄混了。请用 `input_ids.view(batch * num_choices, length)` "
              "展平（不要 transpose/permute），再用 `.view(batch, num_choices)` 变形得分，这样第 b*num_choices + c 行"
              "就是问题 b 的选项 c。",
    },
    "multiple_choice.diag_probabilities": {
        "en": "You returned probabilities; return the raw scores (no softmax: the loss applies it).",
        "zh": "你返回的是概率；请返回原始得分（不做 softmax：损失函数会做）。",
    },
    "multiple_choice.diag_raw_cls": {
        "en": "You scored the raw [CLS] vector (`last_hidden_state[:, 0]`); BertForMultipleChoice scores "
              "`pooler_output` (the [CLS] vector after the pooler's dense layer and tanh).",
        "zh": "你对原始的 [CLS] 向量（`last_hidden_state[:, 0]`）打了分；BertForMultipleChoice 打分用的是 "
              "`pooler_output`（[CLS] 向量经过池化层的 dense 层和 tanh 之后的结果）。",
    },
    "multiple_choice.diag_no_mask": {
        "en": "You did not pass the attention_mask to the encoder; flatten it like input_ids and pass it.",
        "zh": "你没有把 attention_mask 传给编码器；请像 input_ids 一样把它展平后传入。",
    },
    "multiple_choice.diag_no_types": {
        "en": "You did not pass the token_type_ids to the encoder; flatten them like input_ids and pass them.",
        "zh": "你没有把 token_type_ids 传给编码器；请像 input_ids 一样把它展平后传入。",
    },
    "multiple_choice.diag_generic": {
        "en": "Flatten all three inputs to (batch*num_choices, length), pass them to `bert(...)`, apply `head` to "
              "`.pooler_output` and `.view(batch, num_choices)` the result.",
        "zh": "请把三个输入都展平为 (batch*num_choices, length)，传给 `bert(...)`，对 `.pooler_output` 应用 `head`，"
              "再把结果 `.view(batch, num_choices)`。",
    },
    "multiple_choice.head_input": {
        "en": "An input of multiple_choice_logits",
        "zh": "multiple_choice_logits 的某个输入",
    },
    "multiple_choice.head_weights_changed": {
        "en": "multiple_choice_logits changed the head's weights; only call `head(...)`.",
        "zh": "multiple_choice_logits 改动了任务头的权重；只应调用 `head(...)`。",
    },
    "multiple_choice.and": {
        "en": " and ",
        "zh": " 和 ",
    },
    "multiple_choice.head_what": {
        "en": "multiple_choice_logits on input_ids of shape {shape} (batch={b}, num_choices={c}){missing}",
        "zh": "multiple_choice_logits 在形状为 {shape} 的 input_ids 上（batch={b}，num_choices={c}）{missing}",
    },
    "multiple_choice.with_none": {
        "en": " with {names}=None",
        "zh": "，且 {names}=None",
    },
    "multiple_choice.shape_swapped": {
        "en": " That is (num_choices, batch): you mixed the batch and choice dimensions; use `.view(batch, num_choices)`.",
        "zh": "这是 (num_choices, batch)：你把批次维和选项维弄混了；请用 `.view(batch, num_choices)`。",
    },
    "multiple_choice.shape_reshape": {
        "en": " Reshape the (batch*num_choices, 1) scores with `.view(batch, num_choices)`.",
        "zh": "请用 `.view(batch, num_choices)` 把 (batch*num_choices, 1) 的得分变形。",
    },
    "multiple_choice.head_shape": {
        "en": "{what} returned shape {got}, expected ({b}, {c}).{hint}",
        "zh": "{what}返回的形状是 {got}，应为 ({b}, {c})。{hint}",
    },
    "multiple_choice.with_diagnosis": {
        "en": "{error} {diagnosis}",
        "zh": "{error}{diagnosis}",
    },
    "multiple_choice.head_passed": {
        "en": "multiple_choice_logits matches the reference on {n} batch(es) on {device}",
        "zh": "multiple_choice_logits 在 {device} 上的 {n} 个批次上与参考实现一致",
    },
    # ---------------------------------------------------------------- check_encode_choices
    "multiple_choice.rows_tensor_dim": {
        "en": "{what}: {key} is a tensor of shape {shape}; expected one row per choice ({n} rows). Do not pass "
              "return_tensors with a batch of one (that adds a dimension).",
        "zh": "{what}：{key} 是形状为 {shape} 的张量；应为每个选项一行（共 {n} 行）。不要在只有一个批次时传 "
              "return_tensors（那会多出一个维度）。",
    },
    "multiple_choice.of_length": {
        "en": " of length {n}",
        "zh": "（长度 {n}）",
    },
    "multiple_choice.rows_not_lists": {
        "en": "{what}: {key} should be a list of {n} lists of ints (one per choice), got a {got}.",
        "zh": "{what}：{key} 应该是由 {n} 个 int 列表组成的 list（每个选项一个），得到的是 {got}。",
    },
    "multiple_choice.enc_what": {
        "en": "encode_choices for {question}{more} with {n} choices and max_length={max_length}",
        "zh": "encode_choices 对问题 {question}{more}（{n} 个选项，max_length={max_length}）",
    },
    "multiple_choice.enc_not_dict": {
        "en": "{what} returned a {type}; return a dict (or the tokenizer's BatchEncoding) with 'input_ids', "
              "'token_type_ids' and 'attention_mask'.",
        "zh": "{what}返回了 {type}；请返回一个含 'input_ids'、'token_type_ids' 和 'attention_mask' 的 dict"
              "（或分词器的 BatchEncoding）。",
    },
    "multiple_choice.enc_missing_key": {
        "en": "{what} has no {key}; return 'input_ids', 'token_type_ids' and 'attention_mask'.",
        "zh": "{what}的结果中没有 {key}；请返回 'input_ids'、'token_type_ids' 和 'attention_mask'。",
    },
    "multiple_choice.enc_too_long": {
        "en": "{what}: your rows have {width} tokens, more than max_length={max_length}. Truncate: cut tokens from the "
              "end of the question (truncation='only_first').",
        "zh": "{what}：你的行有 {width} 个词元，超过了 max_length={max_length}。请截断：从问题末尾删去词元"
              "（truncation='only_first'）。",
    },
    "multiple_choice.enc_padded": {
        "en": "{what}: your rows have {width} tokens, but the longest choice needs only {needed}. Do not pad to "
              "max_length: leave the rows unpadded (PaddingCollator pads each batch to its own longest sequence).",
        "zh": "{what}：你的行有 {width} 个词元，但最长的选项只需要 {needed} 个。不要填充到 max_length：各行保持不填充"
              "（PaddingCollator 会把每个批次填充到该批次中最长序列的长度）。",
    },
    "multiple_choice.enc_row_lengths": {
        "en": "{what}: {key} rows do not have the same lengths as the input_ids rows.",
        "zh": "{what}：{key} 各行的长度与 input_ids 各行不一致。",
    },
    "multiple_choice.enc_choice": {
        "en": "{what}, choice {c} ({choice})",
        "zh": "{what}，选项 {c}（{choice}）",
    },
    "multiple_choice.hint_too_long": {
        "en": "It has {n} tokens: truncate to max_length={max_length}.",
        "zh": "它有 {n} 个词元：请截断到 max_length={max_length}。",
    },
    "multiple_choice.hint_choice_first": {
        "en": "The choice comes first; the question must be the first segment: [CLS] question [SEP] choice [SEP].",
        "zh": "选项排在了前面；问题必须是第一个片段：[CLS] question [SEP] choice [SEP]。",
    },
    "multiple_choice.hint_choice_cut": {
        "en": "The choice was cut: when the pair is too long, remove tokens from the end of the question first "
              "(truncation='only_first') and keep the choice whole.",
        "zh": "选项被截断了：句对过长时，应先从问题末尾删去词元（truncation='only_first'），保持选项完整。",
    },
    "multiple_choice.hint_cls": {
        "en": "Each row starts with [CLS] and both segments end with [SEP] (add_special_tokens).",
        "zh": "每一行以 [CLS] 开头，两个片段都以 [SEP] 结尾（add_special_tokens）。",
    },
    "multiple_choice.hint_two_sep": {
        "en": "A pair has two [SEP]: one after the question, one after the choice.",
        "zh": "一个句对有两个 [SEP]：问题之后一个，选项之后一个。",
    },
    "multiple_choice.enc_tokens": {
        "en": "{what}: got the tokens {got}, expected {want}. {hint}",
        "zh": "{what}：得到的词元是 {got}，应为 {want}。{hint}",
    },
    "multiple_choice.hint_types_zero": {
        "en": "All token_type_ids are 0; the choice segment (`choice [SEP]`) has token type 1 — encode the question and "
              "the choice as a pair.",
        "zh": "所有 token_type_ids 都是 0；选项片段（`choice [SEP]`）的 token type 是 1——请把问题和选项作为句对编码。",
    },
    "multiple_choice.enc_types": {
        "en": "{what}: token_type_ids {got}, expected {want}. {hint}",
        "zh": "{what}：token_type_ids 为 {got}，应为 {want}。{hint}",
    },
    "multiple_choice.enc_mask": {
        "en": "{what}: the attention_mask must be 1 on every real token and 0 only on padding at the end of a row, got "
              "{mask}.",
        "zh": "{what}：attention_mask 必须在每个真实词元上为 1，只在行末的填充上为 0，得到的是 {mask}。",
    },
    "multiple_choice.enc_passed": {
        "en": "encode_choices matches the reference on {n} question(s)",
        "zh": "encode_choices 在 {n} 个问题上与参考实现一致",
    },
    # ---------------------------------------------------------------- check_mc_accuracy
    "multiple_choice.acc_case_8x4": {
        "en": "8 questions with 4 choices",
        "zh": "8 个问题、每题 4 个选项",
    },
    "multiple_choice.acc_case_all_right": {
        "en": "5 questions with 3 choices, all right",
        "zh": "5 个问题、每题 3 个选项、全部答对",
    },
    "multiple_choice.acc_case_7x2": {
        "en": "7 questions with 2 choices",
        "zh": "7 个问题、每题 2 个选项",
    },
    "multiple_choice.acc_case_one": {
        "en": "one question with 5 choices",
        "zh": "1 个问题、5 个选项",
    },
    "multiple_choice.acc_case_none_right": {
        "en": "4 questions with 4 choices, none right",
        "zh": "4 个问题、每题 4 个选项、全部答错",
    },
    "multiple_choice.acc_case_dtypes": {
        "en": "6 questions, float64 logits and int32 labels",
        "zh": "6 个问题、float64 的 logits 和 int32 的 labels",
    },
    "multiple_choice.acc_case_wide": {
        "en": "4 questions with 6 choices (batch < choices)",
        "zh": "4 个问题、每题 6 个选项（batch < choices）",
    },
    "multiple_choice.acc_case_ties": {
        "en": "5 questions whose best scores are tied",
        "zh": "5 个最高分并列的问题",
    },
    "multiple_choice.acc_input": {
        "en": "An input of mc_accuracy",
        "zh": "mc_accuracy 的某个输入",
    },
    "multiple_choice.acc_not_float": {
        "en": "mc_accuracy on {desc} returned a {type}; return a Python float (`.item()`).",
        "zh": "mc_accuracy 在{desc}上返回了 {type}；请返回 Python float（`.item()`）。",
    },
    "multiple_choice.hint_last_tie": {
        "en": "On a tie between the best scores the prediction is the FIRST best choice (as torch.argmax gives it); "
              "yours takes the last one (e.g. a `>=` when keeping the running best).",
        "zh": "最高分并列时，预测应取第一个最高分的选项（与 torch.argmax 一致）；你的取了最后一个"
              "（例如更新当前最优时用了 `>=`）。",
    },
    "multiple_choice.hint_count": {
        "en": "That is the number of right answers; divide by the number of questions.",
        "zh": "这是答对的个数；请除以问题数。",
    },
    "multiple_choice.hint_percent": {
        "en": "That is a percentage; return a fraction between 0 and 1.",
        "zh": "这是百分数；请返回 0 到 1 之间的比例。",
    },
    "multiple_choice.hint_dim0": {
        "en": "Take the argmax over the choices (the last dimension, `dim=-1`), one prediction per question; argmax over "
              "dim 0 compares questions.",
        "zh": "请在选项维（最后一维，`dim=-1`）上取 argmax，每个问题一个预测；在 dim 0 上取 argmax 比较的是不同问题。",
    },
    "multiple_choice.hint_generic": {
        "en": "Predict `logits.argmax(dim=-1)` and return the mean of (prediction == label) as a float.",
        "zh": "请用 `logits.argmax(dim=-1)` 作预测，并以 float 返回 (prediction == label) 的平均值。",
    },
    "multiple_choice.acc_what": {
        "en": "mc_accuracy on {desc}",
        "zh": "mc_accuracy 在{desc}上的结果",
    },
    "multiple_choice.acc_passed": {
        "en": "mc_accuracy matches the reference on {n} cases on {device}",
        "zh": "mc_accuracy 在 {device} 上的 {n} 个用例上与参考实现一致",
    },
}
