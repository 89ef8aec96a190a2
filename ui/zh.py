"""Streamlit's own words in the browser, in Chinese.

Streamlit's frontend has no translations: the file uploader says 「Upload」 and 「200MB per
file」, the skip link 「Skip to main content」, a long run 「Running...」 and 「Stop」. The script
cannot reach those words, so one page script rewrites them where they appear (a
MutationObserver over the page: Streamlit redraws them on every run). Only whole texts that
Streamlit itself writes are matched, never a part of the app's own text."""

from __future__ import annotations

import json

EXACT = {
    "Skip to main content": "跳到主要内容",
    "Upload": "上传文件",
    "Browse files": "选择文件",
    "Drag and drop files here": "将文件拖到此处",
    "Drag and drop file here": "将文件拖到此处",
    "Choose an option": "请选择",
    "Choose options": "请选择",
    "No results": "无匹配项",
    "Press Enter to apply": "按回车键确认",
    "Press Enter to submit form": "按回车键提交",
    "Press ⌘+Enter to apply": "按 ⌘+回车 确认",
    "Press Ctrl+Enter to apply": "按 Ctrl+回车 确认",
    "Press Ctrl+Enter to submit form": "按 Ctrl+回车 提交",
    "Press ⌘+Enter to submit form": "按 ⌘+回车 提交",
    "Running...": "运行中…",
    "Stop": "停止",
    "Connecting": "正在连接",
    "Please wait...": "请稍候…",
    "Connection error": "连接中断",
    "Clear all": "全部清除",
    "Loading": "加载中",
    # the file uploader's refusals (Streamlit's frontend; the size limit's own pattern is below)
    "This type of files are not allowed.": "不接受这种类型的文件",
    "File size is too small.": "文件太小",
    "Only one file is allowed.": "只能上传一个文件",
    "Unexpected error. Please try again.": "出现意外错误，请重试",
}
# (JavaScript regular expression, replacement[, characters dropped from the result])
PATTERNS: list[tuple[str, ...]] = [
    (r"^(\d+(?:\.\d+)?)\s?([KMG]B) per file(.*)$", "每个文件不超过 $1 $2$3"),
    (r"^File must be (\d+(?:\.\d+)?)\s?([KMG]?B) or smaller\.$", "文件不能超过 $1 $2"),
    (r"^(.+) files are not allowed\.$", "不接受这种类型的文件（$1）"),
    # the server's check of an extension: the list is Python's repr (['.csv', '.xlsx'])
    (r"^Invalid file extension: `(.*)`\. Allowed: \[(.*)\]$", "不接受扩展名为 $1 的文件，可上传：$2", "'"),
    # an uploaded file's size: 6.0B, 1.2KB
    (r"^(\d+(?:\.\d+)?)B$", "$1 字节"),
    (r"^(\d+(?:\.\d+)?)(KB|MB|GB)$", "$1 $2"),
    # what a screen reader announces when a select box opens (read aloud, not shown)
    (r"^(\d+) options? available\.?$", "共 $1 个选项"),
    (r"^(\d+) results? available\.?$", "共 $1 个匹配项"),
]

SCRIPT = """<script>(() => {
  if (window.__mianshenZh) return;
  window.__mianshenZh = true;
  const exact = __EXACT__;
  const patterns = __PATTERNS__.map(([re, to, drop]) => [new RegExp(re), to, drop || ""]);
  const fix = (root) => {
    if (!root) return;
    if (root.nodeType === 3) root = root.parentNode;
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      const t = n.nodeValue.trim();
      if (!t) continue;
      if (Object.hasOwn(exact, t)) { n.nodeValue = exact[t]; continue; }
      for (const [re, to, drop] of patterns) if (re.test(t)) {
        let out = t.replace(re, to);
        for (const c of drop) out = out.split(c).join("");
        n.nodeValue = out;
        break;
      }
    }
  };
  fix(document.body);
  new MutationObserver((changes) => {
    for (const c of changes) {
      if (c.type === "characterData") fix(c.target);
      else c.addedNodes.forEach(fix);
    }
  }).observe(document.body, {childList: true, subtree: true, characterData: true});
})();</script>""".replace("__EXACT__", json.dumps(EXACT, ensure_ascii=False)).replace("__PATTERNS__", json.dumps(PATTERNS))
