// Answers are Markdown; what reaches the page is sanitized HTML. A citation mark `[n]` becomes a link the page
// opens in the viewer (keyboard-reachable, like any link); pages handle clicks on `a[data-cite]`.
import { marked } from "../vendor/marked.mjs";
import DOMPurify from "../vendor/purify.mjs";

marked.setOptions({ gfm: true, breaks: true });

const SANITIZE = {
  ADD_ATTR: ["data-cite"],
  FORBID_TAGS: ["style", "img", "iframe", "form", "input", "button", "video", "audio", "svg", "math"],
  FORBID_ATTR: ["style"],
  ALLOWED_URI_REGEXP: /^(?:https?:|mailto:|#)/i,
};

/** `text` as safe HTML; `[n]` marks link to `#cite-n` when `cited(n)` says that source exists. */
export function renderMarkdown(text, cited = () => false) {
  const withCitations = text.replace(/\[(\d{1,2})\](?!\()/g, (mark, n) =>
    cited(Number(n)) ? `<a href="#cite-${n}" data-cite="${n}" class="cite">[${n}]</a>` : mark,
  );
  const html = marked.parse(withCitations);
  return DOMPurify.sanitize(html, SANITIZE);
}

// Links the model wrote open elsewhere, never in this page's place.
DOMPurify.addHook("afterSanitizeAttributes", (node) => {
  if (node.tagName === "A" && /^https?:/i.test(node.getAttribute("href") || "")) {
    node.setAttribute("target", "_blank");
    node.setAttribute("rel", "noopener noreferrer");
  }
});
