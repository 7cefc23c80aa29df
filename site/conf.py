# Sphinx configuration of the course website. site/build.py writes the sources (index.md, lessons/*.ipynb with their
# outputs) and runs sphinx-build with this file; see site/README.md.
project = "mtbert"
author = "the mtbert course"
copyright = "the mtbert course authors, MIT licence"

extensions = [
    "myst_nb",                 # notebooks and MyST markdown as pages
    "sphinx-mathjax-offline",  # MathJax 3 served from _static/, not from a CDN: the site works offline
]

nb_execution_mode = "off"       # site/build.py executed the notebooks already (fast mode, cached)
nb_output_stderr = "remove"     # progress bars and library warnings are noise on a page
nb_merge_streams = True
myst_enable_extensions = ["dollarmath", "colon_fence"]
myst_heading_anchors = 3
suppress_warnings = ["myst.header"]  # a notebook may step from # to ### in its prose

exclude_patterns = ["downloads/**"]
master_doc = "index"
language = "en"

html_theme = "sphinx_book_theme"
html_title = "mtbert — BERT heads, from MLM to multi-task"
if tags.has("solutions"):  # noqa: F821 (Sphinx provides `tags`)
    html_title += " (self-study edition, with solutions)"
if tags.has("zh"):  # noqa: F821  the Chinese edition (site/lang.py), built into zh-CN/ of the site
    language = "zh_CN"
    # Sphinx 9.0's Chinese search page script calls a ChineseStemmer it never ships (an uncaught exception on every
    # page): index with the English splitter instead, so search finds the English terms and code names on the
    # Chinese pages (Chinese words are not split; a known gap, noted in docs/TERMINOLOGY.md).
    html_search_language = "en"
    html_title = "mtbert — BERT 任务头：从掩码语言模型到多任务学习" + ("（自学版，含参考答案）" if tags.has("solutions") else "")  # noqa: F821
html_copy_source = False        # the pages' sources are the merged notebooks; students download the student notebook
html_show_sourcelink = False
html_last_updated_fmt = None
html_static_path = ["_static"]
html_favicon = "_static/favicon.svg"  # without one the browser asks for /favicon.ico: a 404 in the console
# pydata-sphinx-theme logs an error on a first visit when no colour mode is stored yet: give it one
html_context = {"default_mode": "light"}
html_theme_options = {
    "home_page_in_toc": True,
    "show_toc_level": 2,
    "use_download_button": False,
    "use_fullscreen_button": False,
    "use_repository_button": False,
    "use_sidenotes": False,
    "navigation_with_keys": False,
}
