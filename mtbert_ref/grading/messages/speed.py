"""Messages of grading/speed.py (notebook 09)."""

MESSAGES = {
    "speed.pad_changed_input": {
        "en": "pad_batch changed the examples it was given (e.g. appended padding to the input lists in place); build "
              "new lists instead.",
        "zh": "pad_batch 修改了传给它的样本（例如原地往输入列表末尾追加了填充）；请改为构造新的列表。",
    },
    "speed.pad_not_dict": {
        "en": "pad_batch should return a dict of tensors with keys {keys}, got a {type}.",
        "zh": "pad_batch 应返回一个由张量组成、键为 {keys} 的 dict，得到的是 {type}。",
    },
    "speed.pad_keys": {
        "en": "pad_batch returned the keys {got}, expected {want} (token_type_ids only when the examples have them).",
        "zh": "pad_batch 返回的键是 {got}，应为 {want}（只有样本带 token_type_ids 时才返回它）。",
    },
    "speed.pad_what": {
        "en": "pad_batch(...)[{key}] for examples of lengths {lengths} with pad_token_id={pad_id}",
        "zh": "长度为 {lengths}、pad_token_id={pad_id} 的样本上的 pad_batch(...)[{key}]",
    },
    "speed.pad_fixed_length": {
        "en": "{what} has {columns} columns but the longest example has {longest} tokens: dynamic padding pads to the "
              "longest in the batch, not to a fixed length.",
        "zh": "{what} 有 {columns} 列，但最长的样本只有 {longest} 个词元：动态填充是填充到批次中最长的长度，"
              "而不是固定长度。",
    },
    "speed.pad_mask_from_ids": {
        "en": "{what} is 0 on real tokens whose id equals pad_token_id: the mask was derived from the ids "
              "(`input_ids != pad_token_id`). Build it from each example's length: 1 for its len(input_ids) tokens, 0 "
              "for the padding added.",
        "zh": "{what} 在 id 恰好等于 pad_token_id 的真实词元上为 0：这个掩码是由 id 推出来的"
              "（`input_ids != pad_token_id`）。请按每个样本的长度构造：它的 len(input_ids) 个词元为 1，"
              "补上的填充为 0。",
    },
    "speed.pad_passed": {
        "en": "pad_batch matches the reference on {n} batches",
        "zh": "pad_batch 在 {n} 个批次上与参考实现一致",
    },
    "speed.whole_data_set": {
        "en": "the whole data set",
        "zh": "整个数据集",
    },
    "speed.wrong_chunk": {
        "en": "your batches are those of chunks of {chunk} indices ({name}); step 2 cuts the shuffled indices into "
              "chunks of batch_size * bucket_factor = {size}, so that batches are sorted only within a chunk and stay "
              "random across the data set.",
        "zh": "你的批次是按每块 {chunk} 个下标（{name}）切出来的；第 2 步应把打乱后的下标切成每块 "
              "batch_size * bucket_factor = {size} 个，这样批次只在块内排序，在整个数据集上仍是随机的。",
    },
    "speed.bucket_what": {
        "en": "bucket_batches on {n} examples (batch_size={bs}, bucket_factor={bf})",
        "zh": "bucket_batches 在 {n} 个样本上（batch_size={bs}，bucket_factor={bf}）",
    },
    "speed.bucket_not_lists": {
        "en": "{what} should return a list of lists of indices, got {type}.",
        "zh": "{what} 应返回由下标列表组成的 list，得到的是 {type}。",
    },
    "speed.bucket_not_int": {
        "en": "{what}: batches must hold Python int indices (got {type}).",
        "zh": "{what}：批次中的下标必须是 Python int（得到的是 {type}）。",
    },
    "speed.bucket_indices": {
        "en": "{what}: every index 0..{last} must appear exactly once; missing {missing}, repeated {dup}, {total} "
              "indices in all.",
        "zh": "{what}：每个下标 0..{last} 都必须恰好出现一次；缺少 {missing}，重复 {dup}，共 {total} 个下标。",
    },
    "speed.bucket_too_big": {
        "en": "{what}: a batch has {size} examples, more than batch_size={bs}.",
        "zh": "{what}：有一个批次含 {size} 个样本，超过了 batch_size={bs}。",
    },
    "speed.bucket_too_many": {
        "en": "{what}: {n} batches, but {needed} suffice; fill every batch of a chunk before starting the next.",
        "zh": "{what}：共 {n} 个批次，但 {needed} 个就够了；请先填满一个块里的每个批次，再开始下一个。",
    },
    "speed.bucket_padding": {
        "en": "{what}: {got:.1f}% of the padded slots are padding, the reference gets {ref:.1f}%: sort each chunk by "
              "length before cutting it into batches.",
        "zh": "{what}：填充后的位置中有 {got:.1f}% 是填充，参考实现只有 {ref:.1f}%：请先把每个块按长度排序，"
              "再切成批次。",
    },
    "speed.bucket_detail": {
        "en": "{what}: {detail}",
        "zh": "{what}：{detail}",
    },
    "speed.bucket_twice": {
        "en": "{what} called twice with seed=7",
        "zh": "以 seed=7 调用两次的 {what}",
    },
    "speed.bucket_global_random": {
        "en": "Use random.Random(seed), not the global random module, so that the same seed gives the same batches.",
        "zh": "请用 random.Random(seed)，不要用全局的 random 模块，这样同一个种子才会得到同样的批次。",
    },
    "speed.bucket_same_for_seeds": {
        "en": "{what}: seeds 7 and 8 gave identical batches; shuffle the indices (and the batch order) with the seeded "
              "generator, so that each epoch sees other batches.",
        "zh": "{what}：种子 7 和 8 给出了完全相同的批次；请用带种子的生成器打乱下标（以及批次顺序），"
              "让每个 epoch 看到不同的批次。",
    },
    "speed.bucket_sorted": {
        "en": "{what}: the batches come out sorted from shortest to longest; shuffle the batch order, otherwise "
              "training sees all short examples first.",
        "zh": "{what}：批次按从短到长排好了序；请打乱批次顺序，否则训练会先看到所有短样本。",
    },
    "speed.bucket_passed": {
        "en": "bucket_batches has the right properties on {n} data sets",
        "zh": "bucket_batches 在 {n} 个数据集上都满足要求的性质",
    },
}
