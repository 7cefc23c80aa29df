"""Messages of grading/core.py: the generic checks every checker is built from."""

MESSAGES = {
    "core.note_printed": {
        "en": "note: the check printed {n} warning(s)/message(s); they cost no points:\n  {shown}",
        "zh": "提示：检查过程中输出了 {n} 条警告/信息，不扣分：\n  {shown}",
    },
    "core.line_of_cell": {
        "en": "line {lineno} of your cell",
        "zh": "你的单元格第 {lineno} 行",
    },
    "core.line_of_file": {
        "en": "{file}, line {lineno}",
        "zh": "{file} 第 {lineno} 行",
    },
    "core.at_line_code": {
        "en": " (at {where}: `{code}`)",
        "zh": "（位于{where}：`{code}`）",
    },
    "core.at_line": {
        "en": " (at {where})",
        "zh": "（位于{where}）",
    },
    "core.your_code": {
        "en": "your code",
        "zh": "你的代码",
    },
    "core.your_function": {
        "en": "your function",
        "zh": "你的函数",
    },
    "core.took_too_long": {
        "en": "{what} took longer than {seconds:g} s and was stopped. Look for an endless loop or a Python loop over "
              "every element where a tensor operation would do.",
        "zh": "{what} 运行超过 {seconds:g} 秒，已被停止。请检查是否有死循环，或是否对每个元素写了 Python 循环，"
              "而这里一次张量运算就够了。",
    },
    "core.not_callable": {
        "en": "`{name}` should be a function (or module) you defined, but it is a {type}.",
        "zh": "`{name}` 应该是你自己定义的函数（或模块），但它是 {type}。",
    },
    "core.is_reference": {
        "en": "`{name}` is the course's reference implementation from mtbert_ref, not your own code. This exercise is "
              "graded on your implementation: write it yourself (0 points for this test).",
        "zh": "`{name}` 是课程在 mtbert_ref 中的参考实现，不是你自己的代码。本练习按你自己的实现计分："
              "请自己编写（本测试 0 分）。",
    },
    "core.not_implemented": {
        "en": "`{name}` is not implemented yet (it raised NotImplementedError): replace the "
              "`raise NotImplementedError()` line with your code.",
        "zh": "`{name}` 还没有实现（它抛出了 NotImplementedError）：请把 `raise NotImplementedError()` "
              "这一行换成你的代码。",
    },
    "core.raised": {
        "en": "`{name}` raised {exc}: {msg}{where}",
        "zh": "`{name}` 抛出了 {exc}：{msg}{where}",
    },
    "core.ran_reference": {
        "en": "`{name}` ran the course's reference implementation (`{ran}` from mtbert_ref, or a copy of its code) "
              "instead of your own code. This exercise is graded on your implementation: write it yourself (0 points "
              "for this test).",
        "zh": "`{name}` 运行了课程的参考实现（mtbert_ref 中的 `{ran}`，或其代码的副本），而不是你自己的代码。"
              "本练习按你自己的实现计分：请自己编写（本测试 0 分）。",
    },
    "core.modified_in_place": {
        "en": "{what} was modified in place by your code. Work on a copy (or use out-of-place operations such as "
              "`x * m` instead of `x.mul_(m)` / `x[...] = ...`).",
        "zh": "你的代码原地修改了{what}。请在副本上操作（或使用非原地运算，例如用 `x * m` 代替 "
              "`x.mul_(m)` / `x[...] = ...`）。",
    },
    "core.not_a_tensor": {
        "en": "{what} should be a torch.Tensor of shape {shape}, but it is a {type}.",
        "zh": "{what} 应该是形状为 {shape} 的 torch.Tensor，但它是 {type}。",
    },
    "core.wrong_shape": {
        "en": "{what} has shape {got}, expected {want}.",
        "zh": "{what} 的形状是 {got}，应为 {want}。",
    },
    "core.wrong_dtype": {
        "en": "{what} has dtype {got}, expected {want}.",
        "zh": "{what} 的 dtype 是 {got}，应为 {want}。",
    },
    "core.wrong_device": {
        "en": "{what} is on device '{got}', expected '{want}' (the device of the inputs): create new tensors with "
              "`device=x.device` or `torch.zeros_like(x)`.",
        "zh": "{what} 位于设备 '{got}'，应为 '{want}'（输入所在的设备）：新建张量时请用 `device=x.device` "
              "或 `torch.zeros_like(x)`。",
    },
    "core.not_finite": {
        "en": "{what} contains NaN or inf (first at index {idx}: {value}); the expected value there is {want:.6g}. "
              "Look for a division by zero or log(0).",
        "zh": "{what} 含有 NaN 或 inf（第一个在索引 {idx}：{value}）；该处的期望值为 {want:.6g}。"
              "请检查是否有除以零或 log(0)。",
    },
    "core.value_at": {
        "en": "at {idx}: got {got}, expected {want}",
        "zh": "索引 {idx} 处得到 {got}，应为 {want}",
    },
    "core.separator": {
        "en": "; ",
        "zh": "；",
    },
    "core.list_comma": {
        "en": ", ",
        "zh": "，",
    },
    "core.tolerance": {
        "en": " (max abs diff {diff:.3e} in {dtype}, tolerance atol={atol:g}, rtol={rtol:g})",
        "zh": "（{dtype} 下最大绝对误差 {diff:.3e}，容差 atol={atol:g}，rtol={rtol:g}）",
    },
    "core.values_differ": {
        "en": "{what} has the right shape and dtype but {n_wrong} of {n} values differ{extra}; {shown}.",
        "zh": "{what} 的形状和 dtype 都对，但 {n} 个值中有 {n_wrong} 个不同{extra}；{shown}。",
    },
    "core.type_note": {
        "en": " (a {got}, expected a {want})",
        "zh": "（类型为 {got}，应为 {want}）",
    },
    "core.not_equal": {
        "en": "{what}: got {got}{type_note}, expected {want}.{hint}",
        "zh": "{what}：得到 {got}{type_note}，应为 {want}。{hint}",
    },
}
