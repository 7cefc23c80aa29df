"""Messages of grading/concepts.py: the answer formats, and each concept question's explanation (by notebook)."""

MESSAGES = {
    "concepts.choice_format": {
        "en": "The answer should be one of the letters {options} (a string), got {answer}.",
        "zh": "答案应该是字母 {options} 之一（一个字符串），得到的是 {answer}。",
    },
    "concepts.int_format": {
        "en": "The answer should be a whole number (a Python int), got {answer} ({type}).",
        "zh": "答案应该是一个整数（Python int），得到的是 {answer}（{type}）。",
    },
    "concepts.number_format": {
        "en": "The answer should be a number (an int or a float such as 0.5), got {answer} ({type}).",
        "zh": "答案应该是一个数（int，或 0.5 这样的 float），得到的是 {answer}（{type}）。",
    },
    "concepts.shape_format": {
        "en": "The answer should be a shape: a tuple of ints such as (2, 3), got {answer} ({type}).",
        "zh": "答案应该是一个形状：由 int 组成的 tuple，例如 (2, 3)，得到的是 {answer}（{type}）。",
    },
    "concepts.unknown_question": {
        "en": "There is no concept question {question}; the notebook's test cell names one of {known}.",
        "zh": "没有概念题 {question}；笔记本的测试单元格应写 {known} 之一。",
    },
    "concepts.format_passed": {
        "en": "answer {answer} has the right format; whether it is right is checked when your instructor grades",
        "zh": "答案 {answer} 的格式正确；是否答对，要等老师评分时检查",
    },
    "concepts.not_right": {
        "en": "Your answer {answer} is not right. {explanation}",
        "zh": "你的答案 {answer} 不对。{explanation}",
    },
    "concepts.right": {
        "en": "concept check {question}: right",
        "zh": "概念题 {question}：答对了",
    },
    "concepts.explain.00_bert_anatomy": {
        "en": "`hidden_states` holds the output of the embeddings followed by the output of every transformer layer (one "
              "more entry than there are layers), and each entry is (batch, seq_len, hidden); stacking puts that count "
              "in front. Padding does not shorten a row: every sentence of the batch has the padded length.",
        "zh": "`hidden_states` 依次存放嵌入层的输出和每一个 Transformer 层的输出（比层数多一项），每一项的形状都是 "
              "(batch, seq_len, hidden)；堆叠后这个项数排在最前面。填充不会让某一行变短：批次中每个句子都是填充后的长度。",
    },
    "concepts.explain.01_masked_lm": {
        "en": "The loss is the mean cross-entropy over the positions whose label is not -100, and mask_tokens gives a "
              "label to every *chosen* position, whatever its input became: [MASK], a random token or the unchanged "
              "token. Logits at unchosen positions (and at special tokens and padding) are ignored by the loss, so no "
              "gradient flows from them.",
        "zh": "损失是标签不为 -100 的那些位置上交叉熵的平均，而 mask_tokens 给每个*被选中*的位置都设了标签，"
              "不论它的输入变成了什么：[MASK]、随机词元，还是原词元不变。未被选中的位置（以及特殊词元和填充）"
              "上的 logits 不参与损失，所以不会从它们那里传回梯度。",
    },
    "concepts.explain.02_nsp_pretraining_clm": {
        "en": "Count row by row: query i may attend to key j when j <= i (the lower triangle, diagonal included) AND key "
              "j is a real token. The padding position is masked as a key (its column), not as a query: the padding "
              "query's row still allows the real keys before it.",
        "zh": "逐行计数：当 j <= i（下三角，含对角线）并且键 j 是真实词元时，查询 i 才能关注键 j。填充位置是作为键"
              "（它所在的列）被屏蔽的，而不是作为查询：填充位置那个查询的行仍然允许关注它前面的真实键。",
    },
    "concepts.explain.03_extractive_qa": {
        "en": "With `return_overflowing_tokens=True`, the tokenizer's `stride` is the number of context tokens that two "
              "consecutive windows share (the overlap), not the step from one window's start to the next: an answer cut "
              "by one window's border is then whole in the next window if it is no longer than the overlap.",
        "zh": "在 `return_overflowing_tokens=True` 时，分词器的 `stride` 是相邻两个窗口共有的上下文词元数（重叠部分），"
              "而不是从一个窗口起点到下一个窗口起点的步长：这样，被一个窗口边界切断的答案，只要不长于重叠部分，"
              "就会完整地出现在下一个窗口里。",
    },
    "concepts.explain.04_multiple_choice": {
        "en": "The encoder takes a 2-D batch of sequences, so multiple choice flattens questions and choices into one "
              "batch dimension: every (question, choice) pair is one sequence, and the sequence length is unchanged. "
              "The scores are reshaped back to (batch, num_choices) only after the head.",
        "zh": "编码器接收的是二维的序列批次，所以多项选择把问题和选项展平到同一个批次维度：每个（问题，选项）对"
              "是一条序列，序列长度不变。得分要到任务头之后才重新变形回 (batch, num_choices)。",
    },
    "concepts.explain.05_sequence_classification": {
        "en": "Macro-F1 is the plain mean of the per-class F1 scores. A class that is never predicted has no true "
              "positives, so its recall and its F1 are 0, and it still counts in the mean with the same weight as the "
              "majority class.",
        "zh": "宏平均 F1 是各类 F1 的简单平均。从未被预测到的类没有真正例，所以它的召回率和 F1 都是 0，"
              "而它在平均中仍与多数类有同样的权重。",
    },
    "concepts.explain.06_multi_label": {
        "en": "Each label is decided on its own: its probability is the sigmoid of its own logit (no softmax over the "
              "labels), and sigmoid(0) is exactly 0.5. The decision rule is probability >= threshold, so a probability "
              "equal to the threshold counts as predicted.",
        "zh": "每个标签单独判定：它的概率是它自己 logit 的 sigmoid（不在标签之间做 softmax），而 sigmoid(0) 恰好是 0.5。"
              "判定规则是 probability >= threshold，所以概率等于阈值时算作预测为正。",
    },
    "concepts.explain.07_multi_task": {
        "en": "Temperature sampling raises every size to the power 1/T and normalises: p_i = n_i ** (1/T) / sum_j n_j ** "
              "(1/T). With T = 2 that is the square root of each size, so the ratio of two sizes shrinks to its square "
              "root.",
        "zh": "温度采样把每个规模取 1/T 次幂再归一化：p_i = n_i ** (1/T) / sum_j n_j ** (1/T)。T = 2 时就是对每个规模"
              "开平方，所以两个规模之比缩小为它的平方根。",
    },
    "concepts.explain.08_growing_a_classifier": {
        "en": "nn.Linear(in_features, out_features) stores its weight as (out_features, in_features): one row per label. "
              "Growing adds one row per new label and keeps the number of input features, which is the encoder's "
              "hidden size.",
        "zh": "nn.Linear(in_features, out_features) 的权重按 (out_features, in_features) 存放：每个标签一行。扩展分类器"
              "时每个新标签增加一行，输入特征数不变，也就是编码器的隐藏维度。",
    },
    "concepts.explain.09_making_it_fast": {
        "en": "Dynamic padding pads every row to the longest row of *this* batch, so the batch is (number of examples) x "
              "(longest length); the padding positions are all of those slots minus the real tokens.",
        "zh": "动态填充把每一行填充到*本*批次中最长那一行的长度，所以批次大小是（样本数）x（最长长度）；"
              "填充位置数就是这些位置总数减去真实词元数。",
    },
}
